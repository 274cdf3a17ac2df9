"""Sequence models through the whole system: the pipeline (validate, gate, train, save, load, predict), the
`stocknb train` command, and a reload in a fresh process. Tiny networks: these test the plumbing, not skill
(the placebo and planted-signal runs are in test_honesty.py)."""
import json, os, subprocess, sys
import numpy as np, pandas as pd, pytest

def cli(*args, timeout=300):
    return subprocess.run([sys.executable, '-m', 'stocknb.cli', *args], capture_output=True, text=True,
                          timeout=timeout)

@pytest.fixture(scope='module')
def bars(walk_lstm):
    return walk_lstm.df

@pytest.fixture(scope='module')
def trained(walk_lstm):
    "The session's tiny lstm run (conftest.walk_lstm): pipeline, report, production model, root."
    return walk_lstm.pipe, walk_lstm.rep, walk_lstm.pm, walk_lstm.root

def test_pipeline_validates_gates_and_saves_an_lstm(trained):
    pipe, rep, pm, root = trained
    r = rep.results['lstm']
    assert r.n_nan_pred == 0 and len(r.oof) > 0                    # a prediction for every test row
    assert not rep.gates['lstm'].passed                            # a random walk: no skill, and the gate says so
    files = {p.name for p in (root/'RW'/'lstm').iterdir()}
    assert {'model.keras', 'scaler.json', 'sequence.json'} <= files
    meta = json.loads((root/'RW'/'lstm'/'sequence.json').read_text())
    assert meta['builder'] == 'lstm_transformer' and meta['settings']['lookback'] == 8
    from stocknb.features import DAILY_INPUTS
    from stocknb.registry import MODELS
    assert meta['settings']['features'] == list(DAILY_INPUTS) == meta['feature_names']   # the preset, used and saved
    assert meta['settings']['patience'] == 1 and MODELS['lstm'].preset['patience'] == 20   # model_params win
    assert meta['settings']['seed'] == pipe.config.seed
    assert meta['settings']['epochs'] == pm.models['lstm'].epochs    # the epoch count it trained with, saved
    assert pm.manifest['gate_overridden'] is True

_FOLD_RUN = """
import json, sys
import pandas as pd
from stocknb.pipeline import PipelineConfig, ProductionPipeline
c = PipelineConfig.from_dict(json.loads(sys.argv[1]))
bars = pd.read_csv(sys.argv[2], index_col='Date', parse_dates=True)
rep = ProductionPipeline(c).run_validation(data=bars, progress=False, record=False)
print(json.dumps({'workers': c.fold_workers('lstm'), 'oof': rep.results['lstm'].oof.tolist()}))
"""

def test_folds_in_worker_processes_give_the_same_predictions_quietly(trained, bars, tmp_path):
    """`PipelineConfig(fold_jobs=2)` in a user's fresh process: the lstm's folds run in two loky workers, which import
    the network's module when the factory arrives (it registers the builder there; without that: "unknown network
    builder"), write no start-up line (on TensorFlow they wrote 3 a worker before `quiet_tf_startup`; on JAX none),
    and predict the same bits as this process's run of the same settings with every fold in-process."""
    from joblib import cpu_count
    from test_cli import START_UP, user_env
    if cpu_count() < 2: pytest.skip('one core: the folds run in this process (one worker per fold and core at most)')
    pipe, rep, _, _ = trained
    f = tmp_path/'rw.csv'
    bars.iloc[:900].to_csv(f, index_label='Date')
    c = pipe.config.to_dict() | {'fold_jobs': 2, 'models_dir': str(tmp_path)}
    r = subprocess.run([sys.executable, '-c', _FOLD_RUN, json.dumps(c), str(f)], capture_output=True, text=True,
                       timeout=300, env=user_env(TF_CPP_MIN_LOG_LEVEL='3'))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out['workers'] == 2 and out['oof'] == rep.results['lstm'].oof.tolist()
    assert not START_UP.search(r.stderr), r.stderr[-3000:]

_JAX_RUN = """
import json, sys
from stocknb.data import random_walk_ohlcv
from stocknb.features import DAILY_INPUTS, make_dataset
from stocknb.sequence import sequence_factory
ds = make_dataset(random_walk_ohlcv(600, seed=5))
net = sequence_factory('plain_lstm', lookback=8, units=4, features=list(DAILY_INPUTS), batch_size=256, patience=1000,
                       epochs=int(sys.argv[1]), verbose=0)()
net.fit(ds.X.iloc[:250], ds.y.iloc[:250], ds.X.iloc[230:300], ds.y.iloc[230:300])
print(json.dumps(net.predict(ds.X).tolist()[300:]))
"""

def _jax_run(cache, epochs:int) -> subprocess.Popen:
    env = os.environ | {'KERAS_BACKEND': 'jax', 'STOCKNB_CACHE_DIR': str(cache)}
    env.pop('JAX_COMPILATION_CACHE_DIR', None)
    return subprocess.Popen([sys.executable, '-c', _JAX_RUN, str(epochs)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

def test_jax_keeps_compiled_programs_across_processes(tmp_path):
    """On Keras' JAX backend (stocknb's default) the compiled programs go to stocknb's cache folder: two processes
    filling an empty folder at once both finish with the same predictions (JAX locks the folder: `jax_compile_cache`
    sets a size). The smallest network (`plain_lstm`, one fit): the mechanism is `SequenceModel`'s, one for every
    builder; a process running a 2-fold walk-forward of a tiny lstm preset instead took 17 s, not 7 s, cold;
    a third process, whose fits are longer (3 epochs, not 2: another learning-rate schedule), compiles nothing new
    — the schedule's length is optimizer state, not a constant in the program (without that: new programs)."""
    runs = [_jax_run(tmp_path, 2), _jax_run(tmp_path, 2)]
    outs = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outs[0][1][-3000:] + outs[1][1][-3000:]
    first = {f.name for f in (tmp_path/'jax').iterdir()}
    assert any(n.endswith('-cache') for n in first) and outs[0][0] == outs[1][0], first
    third = _jax_run(tmp_path, 3); out, err = third.communicate(timeout=300)
    assert third.returncode == 0 and json.loads(out) != json.loads(outs[0][0]), err[-3000:]   # trained longer
    assert {f.name for f in (tmp_path/'jax').iterdir()} == first

def test_prediction_identical_after_reload(trained, bars):
    from stocknb.pipeline import ProductionModel
    pipe, rep, pm, root = trained
    a = pipe.predict(bars, model=pm)
    b = pipe.predict(bars, model=ProductionModel.load('RW', root))
    assert a.predicted_return == b.predicted_return and np.isfinite(a.predicted_return)
    assert a.as_of == f"{bars.index[-1]:%Y-%m-%d}"

def test_prediction_identical_in_a_fresh_process(trained, bars, tmp_path):
    pipe, rep, pm, root = trained
    f = tmp_path/'rw.csv'
    bars.to_csv(f, index_label='Date')
    r = cli('predict', '--symbol', 'RW', '--source', 'csv', '--path', str(f), '--models-dir', str(root), '--json')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['predicted_return'] == pipe.predict(bars, model=pm).predicted_return

def test_predict_needs_the_context_rows(trained, bars):
    from stocknb.core import DataError
    from stocknb.features import WARMUP
    pipe, rep, pm, root = trained
    assert pm.context == 7
    with pytest.raises(DataError, match=f'at least {WARMUP + 8}'):
        pipe.predict(bars.iloc[-(WARMUP + 7):], model=pm)

def test_cli_train_command(bars, tmp_path):
    f = tmp_path/'rw.csv'
    bars.iloc[:800].to_csv(f, index_label='Date')
    r = cli('train', 'lstm', '--symbol', 'RW', '--source', 'csv', '--path', str(f), '--epochs', '1', '--batch-size',
            '256', '--lookback', '5', '--disable-multitask', '--validate-only', '--models-dir', str(tmp_path), '--json',
            '--fold-jobs', '1')                 # folds in worker processes: test_folds_in_worker_processes_...
    assert r.returncode == 3, r.stderr                              # validated; the gate refused (a random walk)
    out = json.loads(r.stdout)
    assert list(out['report']) == ['lstm'] and 'failed' in out['gates']['lstm']
    assert not (tmp_path/'RW').exists()                              # --validate-only writes no model

@pytest.mark.parametrize('args,msg', [
    (['--epochs', '0'], '--epochs must be an integer in [1, 10000]; got 0'),
    (['--batch-size', '-5'], '--batch-size must be an integer in [1, 65536]; got -5'),
    (['--learning-rate', '2'], '--learning-rate must be a finite number in (0, 1]; got 2.0'),
])
def test_cli_train_refuses_bad_settings_before_any_work(args, msg):
    r = cli('train', 'lstm', *args, '--validate-only', timeout=60)
    assert r.returncode == 2 and msg in r.stderr, r.stderr

def test_cli_disable_multitask_is_lstm_only():
    r = cli('train', 'xlstm', '--disable-multitask', '--validate-only', timeout=60)
    assert r.returncode == 2 and '--disable-multitask applies to lstm only' in r.stderr, r.stderr
