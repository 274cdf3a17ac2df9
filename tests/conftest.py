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

def pytest_collection_modifyitems(config, items):
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
