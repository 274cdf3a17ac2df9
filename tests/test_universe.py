"""Many symbols at once: loky processes and a real local Dask cluster give identical results; failures stay
per symbol; production training of several symbols into one models folder from parallel processes."""
import json, subprocess, sys
import numpy as np, pandas as pd, pytest
from stocknb.data import random_walk_ohlcv, planted_signal_ohlcv
from stocknb.pipeline import PipelineConfig, ProductionModel, ProductionPipeline
from stocknb.universe import run_universe

def _universe(d, broken=True):
    for i in range(2): random_walk_ohlcv(1200, seed=30 + i).to_csv(d/f'RW{i}.csv')
    planted_signal_ohlcv(1200, phi=0.3, seed=33).to_csv(d/'PL.csv')
    if broken: (d/'BAD.csv').write_text('date,open,high,low,close,volume\n2020-01-02,1,1,1,1,1\n')
    return d

def _config(root, **kw):
    return PipelineConfig(models=('xgb',), models_dir=str(root), model_params={'xgb': {'n_estimators': 80}}, **kw)

@pytest.fixture(scope='module')
def folder(tmp_path_factory): return _universe(tmp_path_factory.mktemp('universe'))

@pytest.fixture(scope='module')
def loky(folder, tmp_path_factory):
    return run_universe(config=_config(tmp_path_factory.mktemp('m')), data_dir=folder, n_jobs=2, progress=False)

def _numbers(u):
    T = u.table.drop(columns=['seconds', 'validation_id'], errors='ignore').sort_values(['symbol', 'model'])
    return T.reset_index(drop=True)

def test_failures_are_recorded_and_never_stop_the_rest(loky):
    assert loky.failures.symbol.tolist() == ['BAD']
    assert loky.failures.error_type.iloc[0] == 'DataError'
    ok = loky.table[loky.table.status == 'ok']
    assert sorted(ok.symbol) == ['PL', 'RW0', 'RW1'] and ok.accuracy.notna().all()
    assert sorted(loky.predictions['xgb'].columns) == ['PL', 'RW0', 'RW1']
    assert loky.workers.symbols.sum() == 4 and (loky.workers.peak_rss_mb > 50).all()

def test_dask_local_cluster_gives_identical_results(folder, loky, tmp_path):
    distributed = pytest.importorskip('dask.distributed')
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
         distributed.Client(lc):
        u = run_universe(config=_config(tmp_path), data_dir=folder, backend='dask', n_jobs=2, progress=False)
    assert u.where.startswith('Dask (tcp://')
    pd.testing.assert_frame_equal(_numbers(u), _numbers(loky))
    pd.testing.assert_frame_equal(u.predictions['xgb'], loky.predictions['xgb'])
    pd.testing.assert_frame_equal(u.cross_section(), loky.cross_section())

@pytest.mark.slow
def test_ray_local_gives_identical_results(folder, loky, tmp_path):
    pytest.importorskip('ray')
    u = run_universe(config=_config(tmp_path), data_dir=folder, backend='ray', n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(_numbers(u), _numbers(loky))

def _adjusted(u, method):
    from stocknb.metrics import adjust_pvalues
    ok = u.table[u.table.status == 'ok'].set_index(['symbol', 'model'])
    return ok, adjust_pvalues(ok['p_raw'], method, u.correction['alpha'])

def test_every_symbol_and_model_is_corrected_together(loky):
    "The table's p_value is Holm over all (symbol, model) tests of the run; the history records the same."
    from stocknb.artifacts import read_history
    ok, a = _adjusted(loky, 'holm')
    assert loky.correction == {'method': 'holm', 'm': 3, 'alpha': 0.01}
    np.testing.assert_allclose(ok['p_value'], a['adjusted_p'], rtol=1e-12)
    assert not (ok['passed'] & (ok['p_value'] >= 0.01)).any()
    for s, m in ok.index:
        h = read_history(loky.config['models_dir'], s)[-1]
        assert h['id'] == ok.loc[(s, m), 'validation_id'] and h['models'][m]['p_value'] == ok.loc[(s, m), 'p_value']

@pytest.mark.parametrize('method', ['bh', 'none'])
def test_benjamini_hochberg_or_no_correction_on_request(folder, tmp_path, method):
    u = run_universe(config=_config(tmp_path, multiple_testing=method), data_dir=folder, n_jobs=2, progress=False)
    ok, a = _adjusted(u, method)
    assert u.correction['method'] == method and u.correction['m'] == 3
    np.testing.assert_allclose(ok['p_value'], a['adjusted_p'], rtol=1e-12)
    if method == 'none': np.testing.assert_allclose(ok['p_value'], ok['p_raw'])

def test_a_symbol_passes_only_on_its_universe_adjusted_p(folder, loky, tmp_path):
    "With α between PL's p and 3 × its p, PL passes the gate alone and fails as one test of three."
    ok = loky.table.set_index('symbol')
    assert ok.loc['PL', 'passed'], 'the planted symbol passes at the default α'
    alpha = 2 * ok.loc['PL', 'p_raw']
    alone = ProductionPipeline(_config(tmp_path/'alone', alpha=alpha, symbol='PL', source='csv',
                                       path=str(folder/'PL.csv'))).run_validation(progress=False)
    assert alone.passed == ['xgb']
    u = run_universe(config=_config(tmp_path/'u', alpha=alpha), data_dir=folder, n_jobs=2, progress=False)
    pl = u.table.set_index('symbol').loc['PL']
    assert not pl['passed'] and pl['p_value'] == pytest.approx(3 * pl['p_raw'], rel=1e-12)

def test_train_saves_each_passing_symbol_from_parallel_processes(tmp_path):
    d = tmp_path/'data'; d.mkdir()
    planted_signal_ohlcv(1500, phi=0.3, seed=41).to_csv(d/'PA.csv')
    planted_signal_ohlcv(1500, phi=0.3, seed=42).to_csv(d/'PB.csv')
    random_walk_ohlcv(1500, seed=43).to_csv(d/'RW.csv')
    root = tmp_path/'models'
    u = run_universe(config=_config(root), data_dir=d, n_jobs=3, train=True, progress=False)
    t = u.table.set_index('symbol')
    assert t.loc['PA', 'passed'] and t.loc['PB', 'passed'] and not t.loc['RW', 'passed']
    assert t.loc['PA', 'trained'] and t.loc['PB', 'trained'] and t.loc['RW', 'trained'] == False
    assert 'no model passed the validation gate' in t.loc['RW', 'train_note']
    for s in ('PA', 'PB'):
        pm = ProductionModel.load(s, root)
        assert list(pm.models) == ['xgb'] and pm.manifest['validation_id'] == t.loc[s, 'validation_id']
    from stocknb.core import ArtifactError
    with pytest.raises(ArtifactError, match='no saved model'): ProductionModel.load('RW', root)

def test_cli_universe_json_and_partial_exit_code(folder, tmp_path):
    r = subprocess.run([sys.executable, '-m', 'stocknb.cli', 'universe', '--data-dir', str(folder), '--models', 'xgb',
                        '--n-jobs', '2', '--models-dir', str(tmp_path), '--json'], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 4, r.stderr                      # BAD failed, the others ran
    out = json.loads(r.stdout)
    assert [f['symbol'] for f in out['failures']] == ['BAD'] and 'xgb' in out['cross_section']
    assert {row['symbol'] for row in out['table'] if row['status'] == 'ok'} == {'PL', 'RW0', 'RW1'}
    assert out['correction'] == {'method': 'holm', 'm': 3, 'alpha': 0.01}
    r = subprocess.run([sys.executable, '-m', 'stocknb.cli', 'universe', '--data-dir', str(folder), '--models', 'xgb',
                        '--n-jobs', '2', '--models-dir', str(tmp_path), '--multiple-testing', 'bh'],
                       capture_output=True, text=True, timeout=600)
    head = next(l for l in r.stdout.splitlines() if l.lstrip().startswith('symbol'))
    assert head.split() == ['symbol', 'model', 'days', 'accuracy', 'skill-free', 'p', 'p', 'adj.', 'Sharpe', 'B&H',
                            'vs', 'B&H', 'passed']
    said = ' '.join(r.stdout.split())
    assert 'p adj.: Benjamini-Hochberg (false-discovery rate ≤ α) over all 3 (symbol, model) tests' in said
    lines = r.stdout.splitlines()
    i = lines.index(head)
    table = lines[i:lines.index('', i)]
    assert len(table) == 4 and max(map(len, table)) <= 100, table

@pytest.mark.parametrize('backend,module,extra', [('ray', 'ray', 'ray'), ('dask', 'dask.distributed', 'dask')])
def test_a_missing_cluster_library_is_refused_before_any_symbol_runs(monkeypatch, folder, tmp_path, backend, module,
                                                                     extra):
    from stocknb.core import ConfigError
    from stocknb import universe
    ran = []
    monkeypatch.setattr(universe, 'run_symbol', lambda *a: ran.append(a))
    monkeypatch.setitem(sys.modules, module, None)                  # as if it were not installed
    with pytest.raises(ConfigError, match=rf"backend='{backend}' needs .*: pip install 'stocknb\[{extra}\]'"):
        run_universe(config=_config(tmp_path), data_dir=folder, backend=backend, progress=False)
    assert ran == []

def test_yfinance_universe_offline_with_a_stand_in_module(monkeypatch, tmp_path):
    "The yfinance source end to end, in-process (n_jobs=1), a stand-in module: cached downloads, per-symbol failures."
    import types
    calls = []
    class Ticker:
        def __init__(self, s): self.s = s; calls.append(s)
        def history(self, **kw):
            if self.s == 'ZZZZ': raise RuntimeError('404 Not Found')
            d = planted_signal_ohlcv(1200, phi=0.3, seed=33)
            d.index = d.index.tz_localize('America/New_York').rename('Date')
            return d.assign(**{'Adj Close': d['Close']})
    monkeypatch.setitem(sys.modules, 'yfinance', types.SimpleNamespace(Ticker=Ticker))
    monkeypatch.setenv('STOCKNB_CACHE_DIR', str(tmp_path/'cache'))
    cfg = _config(tmp_path/'m', source='yfinance')
    u = run_universe(['PLNT', 'ZZZZ'], cfg, n_jobs=1, progress=False)
    assert sorted(calls) == ['PLNT', 'ZZZZ'] and (tmp_path/'cache'/'yfinance'/'PLNT.parquet').is_file()
    assert u.failures.symbol.tolist() == ['ZZZZ'] and u.failures.error_type.iloc[0] == 'DataError'
    assert "yfinance download of 'ZZZZ' failed (RuntimeError: 404 Not Found)" in u.failures.error.iloc[0]
    planted = planted_signal_ohlcv(1200, phi=0.3, seed=33)
    (tmp_path/'csv').mkdir(); planted.to_csv(tmp_path/'csv'/'PLNT.csv')
    ref = run_universe(config=_config(tmp_path/'m2'), data_dir=tmp_path/'csv', n_jobs=1, progress=False)
    cols = ['symbol', 'model', 'status', 'oof_n', 'accuracy', 'se', 'skill_free', 'p_raw', 'p_value', 'ic', 'sharpe',
            'hold_sharpe', 'wfe_%', 'passed']
    ok = _numbers(u).query("status == 'ok'")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(ok, _numbers(ref)[cols], check_dtype=False)   # the same bars, the same numbers
    run_universe(['PLNT'], cfg, n_jobs=1, progress=False)
    assert sorted(calls) == ['PLNT', 'ZZZZ']                             # the second run read the cache

def test_adopt_validation_refuses_another_symbol_or_other_settings(folder, tmp_path):
    "A worker trains only from a validation of its own symbol made with its own settings."
    from stocknb.core import ConfigError
    kw = dict(source='csv', path=str(folder/'PL.csv'))
    rep = ProductionPipeline(_config(tmp_path, symbol='PL', **kw)).run_validation(progress=False, record=False)
    assert ProductionPipeline(_config(tmp_path, symbol='PL', **kw)).adopt_validation(rep).report_ is rep
    with pytest.raises(ConfigError, match='the validation is of PL; this pipeline is for RW0'):
        ProductionPipeline(_config(tmp_path, symbol='RW0', **kw)).adopt_validation(rep)
    with pytest.raises(ConfigError, match='PL: the validation was made with other settings'):
        ProductionPipeline(_config(tmp_path, symbol='PL', alpha=0.05, **kw)).adopt_validation(rep)
    with pytest.raises(ConfigError, match='rep must be a ValidationReport'):
        ProductionPipeline(_config(tmp_path, symbol='PL', **kw)).adopt_validation({'passed': ['xgb']})

_POOL = '''
import sys, time
from concurrent.futures import ProcessPoolExecutor
def run(data, models):
    from stocknb.pipeline import PipelineConfig
    from stocknb.universe import run_universe
    cfg = PipelineConfig(models=('xgb',), models_dir=models, model_params={'xgb': {'n_estimators': 80}})
    return len(run_universe(config=cfg, data_dir=data, n_jobs=2, progress=False).table)
if __name__ == '__main__':
    t = time.perf_counter()
    with ProcessPoolExecutor(1) as pool: rows = pool.submit(run, *sys.argv[1:]).result()
    print(rows, round(time.perf_counter() - t, 1))
'''

def test_a_process_pool_worker_ends_with_its_universe_run(folder, tmp_path):
    """A pool's worker process that ran a loky universe (as `nbdev_test --n_workers 2` runs 14_universe) ends when its
    work is done: it joins its children at exit, and loky's idle workers would otherwise keep it 5 minutes."""
    from joblib import cpu_count
    if cpu_count() < 2: pytest.skip('one core: a run uses no worker process (one per symbol and per core at most)')
    r = subprocess.run([sys.executable, '-c', _POOL, str(folder), str(tmp_path)], capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    rows, seconds = r.stdout.split()
    assert int(rows) == 4 and float(seconds) < 120, r.stdout        # 3 symbols and BAD; the pool shut down included
