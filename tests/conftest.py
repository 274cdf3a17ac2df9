import os
import pytest
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # XGBoost and LightGBM in one process
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('MPLBACKEND', 'Agg')
if 'STOCKNB_MODELS_DIR' not in os.environ:            # tests never write into the checkout's saved_models/
    import tempfile
    os.environ['STOCKNB_MODELS_DIR'] = tempfile.mkdtemp(prefix='stocknb-test-models-')

def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False, help='also run tests marked slow (long statistical variants)')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long-running variant; run with --slow (as nbdev_test --flags slow does for notebooks)')
    config.addinivalue_line('markers', 'long: over 30 s; started first, so that parallel workers (-n 2) end together')

def _shared_group(item) -> str|None:
    "A module's tests that use any of its module-scoped fixtures form one group (pytest-xdist --dist loadgroup)."
    info = getattr(item, '_fixtureinfo', None)
    names = sorted(n for n, defs in (info.name2fixturedefs.items() if info else ())
                   if defs and defs[-1].scope == 'module' and defs[-1].baseid.endswith('.py'))
    return item.module.__name__ if names else None

def pytest_itemcollected(item):         # -n 2 --dist loadgroup: a module's costly fixture is built by one worker only
    if (g := _shared_group(item)) and not item.get_closest_marker('xdist_group'):
        item.add_marker(pytest.mark.xdist_group(g))

def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda it: 'long' not in it.keywords)     # stable: the long tests first, each file's order kept
    if config.getoption('--slow'): return
    skip = pytest.mark.skip(reason='slow variant: run with pytest --slow')
    for it in items:
        if 'slow' in it.keywords: it.add_marker(skip)

@pytest.fixture(scope='session')
def chromium():
    "Run headless Chromium: `chromium(*args) -> CompletedProcess`. Skipped without it, unless STOCKNB_REQUIRE_BROWSER=1."
    import shutil, subprocess
    exe = next((p for p in map(shutil.which, ('chromium', 'chromium-browser', 'google-chrome')) if p), None)
    if exe is None:
        if os.environ.get('STOCKNB_REQUIRE_BROWSER') == '1':
            pytest.fail('STOCKNB_REQUIRE_BROWSER=1 but no Chromium is installed', pytrace=False)
        pytest.skip('Chromium is not installed (CI installs Debian chromium)')
    def run(*args, timeout=120):
        r = subprocess.run([exe, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                            '--virtual-time-budget=5000', *args], capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr[-2000:]
        return r
    return run

@pytest.fixture(scope='session')
def series():
    """`series(kind, days, seed, **kw)`: a synthetic OHLCV frame — kind 'walk' (`random_walk_ohlcv`), 'planted'
    (`planted_signal_ohlcv`) or 'regime' (`regime_switching_ohlcv`) — generated once a session; each call gets a
    copy."""
    from functools import lru_cache
    from stocknb.data import planted_signal_ohlcv, random_walk_ohlcv, regime_switching_ohlcv
    make = {'walk': random_walk_ohlcv, 'planted': planted_signal_ohlcv, 'regime': regime_switching_ohlcv}
    cached = lru_cache(maxsize=None)(lambda kind, days, seed, kw: make[kind](days, seed=seed, **dict(kw)))
    return lambda kind, days, seed, **kw: cached(kind, days, seed, tuple(sorted(kw.items()))).copy()

@pytest.fixture(scope='session')
def planted_xgb(tmp_path_factory):
    """One planted series (2,500 days, φ = 0.25, seed 21) validated and trained once a session: xgb with 300 trees,
    saved as PL in its own root. Read it, never write into `root` (copy it first)."""
    from types import SimpleNamespace
    from stocknb.data import planted_signal_ohlcv
    from stocknb.pipeline import PipelineConfig, ProductionPipeline
    root = tmp_path_factory.mktemp('planted-xgb')
    df = planted_signal_ohlcv(2500, phi=0.25, seed=21)
    pipe = ProductionPipeline(PipelineConfig(symbol='PL', models=('xgb',), model_params={'xgb': {'n_estimators': 300}},
                                             models_dir=str(root)))
    rep = pipe.run_validation(data=df)
    pm = pipe.train_production(data=df)
    return SimpleNamespace(df=df, pipe=pipe, rep=rep, pm=pm, root=root)

TINY_LSTM = dict(lookback=8, units=4, num_heads=1, key_dim=4, epochs=2, batch_size=256, learning_rate=1e-3, patience=1,
                 verbose=0)      # a network that tests the plumbing in seconds, not skill

@pytest.fixture(scope='session')
def walk_lstm(tmp_path_factory, series):
    """One sequence-model run a session: a tiny `lstm` (TINY_LSTM) validated on 900 days of a random walk (seed 11;
    `df` has 1,000), 3 rolling folds (one training size: fewer programs for JAX to compile), trained past the gate
    and saved as RW in its own root. Read it, never write into `root`."""
    from types import SimpleNamespace
    from stocknb.pipeline import PipelineConfig, ProductionPipeline
    root, df = tmp_path_factory.mktemp('walk-lstm'), series('walk', 1000, 11)
    cfg = PipelineConfig(symbol='RW', models=('lstm',), model_params={'lstm': TINY_LSTM}, n_splits=3, skip_gate=True,
                         wf_mode='rolling', models_dir=str(root))
    pipe = ProductionPipeline(cfg)
    rep = pipe.run_validation(data=df.iloc[:900], progress=False)
    pm = pipe.train_production(data=df.iloc[:900])
    return SimpleNamespace(df=df, pipe=pipe, rep=rep, pm=pm, root=root)

@pytest.fixture(scope='session')
def planted_stack(series):
    """One stacked run a session: xgb and lgbm (200 trees each) and their stack validated on a planted series
    (2,500 days, φ = 0.2, seed 11), not recorded, nothing saved."""
    from types import SimpleNamespace
    from stocknb.pipeline import PipelineConfig, ProductionPipeline
    df = series('planted', 2500, 11, phi=0.2)
    cfg = PipelineConfig(symbol='PLANTED', models=('xgb', 'lgbm'), stacking=True,
                         model_params={'xgb': {'n_estimators': 200}, 'lgbm': {'n_estimators': 200}})
    return SimpleNamespace(df=df, rep=ProductionPipeline(cfg).run_validation(data=df, record=False, progress=False))
