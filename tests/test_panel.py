"""A saved panel model (stocknb.panel_pipeline) keeps the artifacts layer's guarantees across processes: no pickle, no
edited manifest, concurrent saves of one name leave one whole model; and production trains on no row after the data."""
import json, pickle, shutil, subprocess, sys
from pathlib import Path
import pytest
from stocknb.core import ArtifactError
from stocknb.panel import planted_panel
from stocknb.panel_models import PanelConfig
from stocknb.panel_pipeline import PanelModel, PanelPipeline

@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    "A small planted panel (8 symbols, 900 days), XGBoost and a small pooled LSTM trained past the gate, saved as PL."
    root = tmp_path_factory.mktemp('panel')
    frames = planted_panel(8, 900, 0.15, seed=3)
    p = PanelPipeline(PanelConfig(name='PL', models=('xgb', 'fk_lstm'), min_symbols=4, models_dir=str(root),
                                  model_params={'fk_lstm': {'lookback': 20, 'epochs': 2}},
                                  min_spread_ratio=1.0))     # no prediction is as spread as the target: none passes,
                                                             # and skip_gate trains both
    p.validate(frames)
    pm = p.train(frames, skip_gate=True)
    pm.save()
    return frames, p, pm, root

def _copy(saved, tmp_path) -> Path:
    "A copy of the saved root to damage; returns the copied model folder."
    shutil.copytree(saved[3], tmp_path/'root')
    return tmp_path/'root'/'panels'/'PL'

def test_a_pickle_in_a_panel_folder_is_refused(saved, tmp_path):
    d = _copy(saved, tmp_path)
    (d/'xgb'/'extra.pkl').write_bytes(pickle.dumps({'a': 1}))
    with pytest.raises(ArtifactError, match='refusing to load a pickled file: xgb/extra.pkl'):
        PanelModel.load('PL', tmp_path/'root')

def test_an_edited_manifest_is_refused(saved, tmp_path):
    d = _copy(saved, tmp_path)
    man = json.loads((d/'manifest.json').read_text())
    man['config']['k'] = 5
    (d/'manifest.json').write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match='was changed after saving'):
        PanelModel.load('PL', tmp_path/'root')

def test_production_training_uses_no_row_after_the_data_end(saved):
    frames, _, pm, _ = saved
    dates = frames['S00'].index
    assert pm.manifest['data']['training_last_date'] == f'{dates[-2]:%Y-%m-%d}'   # the last date has no target yet
    assert pm.models['xgb'].n_train_ == pm.manifest['data']['rows']
    lstm, n_sym = pm.models['fk_lstm'], len(pm.manifest['symbols'])
    assert lstm.scaler_.fit_rows_.size == pm.manifest['data']['rows']            # every row, none after the end
    assert lstm.n_train_ == pm.manifest['data']['rows'] - n_sym * 19              # each symbol's windows: its own rows

def test_a_loaded_pooled_lstm_ranks_as_the_trained_one(saved):
    frames, p, pm, root = saved
    a, b = p.predict(frames, model=pm), p.predict(frames)                        # in memory; loaded from disk
    assert a.long == b.long and a.short == b.short
    assert (a.table['pred_fk_lstm'] == b.table['pred_fk_lstm']).all()           # its windows reach back 19 days

_SAVE = """
import sys
from stocknb.panel_pipeline import PanelModel
pm = PanelModel.load('PL', sys.argv[1])
for _ in range(3): pm.save(sys.argv[2])
print('ok')
"""

def test_two_processes_saving_one_panel_leave_one_whole_model(saved, tmp_path):
    _, _, pm, root = saved
    out = tmp_path/'shared'
    procs = [subprocess.Popen([sys.executable, '-c', _SAVE, str(root), str(out)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        o, e = p.communicate(timeout=240)
        assert p.returncode == 0 and o.strip() == 'ok', e[-2000:]
    back = PanelModel.load('PL', out)                  # verified: every hash, every model
    assert back.features == pm.features and list(back.models) == ['xgb', 'fk_lstm']
    assert sorted(x.name for x in (out/'panels').iterdir()) == ['.stocknb', 'PL']   # no leftovers beside it

def test_the_gate_refusals_hint_works_when_pasted(tmp_path):
    "`stocknb panel` on the bundled stocks: no skill, exit 3; the command its hint gives trains, saves and ranks."
    import re, shlex
    env = {**__import__('os').environ, 'STOCKNB_MODELS_DIR': str(tmp_path/'unused')}
    run = lambda argv: subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    r = run(['stocknb', 'panel', '--models', 'xgb', '--k', '1', '--models-dir', str(tmp_path)])
    assert r.returncode == 3 and 'no model passed the panel gate (xgb failed' in r.stderr, r.stderr[-2000:]
    hint = re.search(r'; (stocknb panel .*) trains them anyway', r.stderr)[1]
    r2 = run(shlex.split(hint))
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert 'note: trained although no model passed the gate (overridden)' in r2.stdout
    assert re.search(r'next trading day after 2013-03-01: long \w+; short \w+', r2.stdout), r2.stdout
    assert PanelModel.load('PANEL', tmp_path).manifest['gate_overridden'] is True

def test_the_named_sp500_panel_runs_from_the_command_line_and_refuses_what_it_lacks(tmp_path):
    "`--dataset sp500` (skfolio's closes, from its wheel): a few names and years validate; a name it lacks is refused."
    run = lambda *a: subprocess.run(['stocknb', 'panel', '--dataset', 'sp500', *a], capture_output=True, text=True,
                                    timeout=300)
    r = run('--symbols', 'KO,PEP,XOM,CVX', '--start', '2018-01-01', '--models', 'xgb', '--k', '1', '--validate-only',
            '--format', 'json', '--models-dir', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out['symbols'] == ['KO', 'PEP', 'XOM', 'CVX'] and 0 < out['table']['xgb']['dates'] < 1300
    bad = run('--symbols', 'KO,TSLA', '--validate-only')
    assert bad.returncode == 2 and "--symbols ['TSLA'] are not in --dataset sp500" in bad.stderr, bad.stderr
    assert not list(tmp_path.iterdir())                                  # validate-only: nothing saved

def test_features_built_on_a_local_dask_cluster_are_the_same_panel():
    "Each symbol's features as a task on a Dask cluster (a local one, started and closed by the run): same bits."
    import pandas as pd
    from stocknb.panel import panel_dataset
    frames = planted_panel(6, 700, 0.1, seed=4)
    here, dask = panel_dataset(frames, min_symbols=4), panel_dataset(frames, min_symbols=4, backend='dask', n_jobs=2)
    pd.testing.assert_frame_equal(here.X, dask.X)
    pd.testing.assert_series_equal(here.y_rel, dask.y_rel)
    pd.testing.assert_frame_equal(here.X_live, dask.X_live)
