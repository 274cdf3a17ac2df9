"""The console script as a user runs it: a real subprocess, real exit codes."""
import json, shutil, subprocess, sys
import pytest

def run(*args, exe=None):
    cmd = [exe] if exe else [sys.executable, '-m', 'stocknb.cli']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)

def test_data_summary():
    r = run('data', '--symbol', 'AAPL')
    assert r.returncode == 0, r.stderr
    assert 'rows             3,270' in r.stdout and 'last date        2013-03-01' in r.stdout

def test_console_script_installed():
    exe = shutil.which('stocknb')
    if exe is None: pytest.fail("the 'stocknb' console script is not on PATH: is the package installed (pip install -e .)?")
    r = run('data', '--symbol', 'MSFT', '--json', exe=exe)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s['symbol'] == 'MSFT' and s['rows'] == 3270

def test_csv_source(tmp_path):
    p = tmp_path/'bars.csv'
    p.write_text("date,open,high,low,close,volume\n1/2/2020,100,102,99,101,1000\n1/3/2020,101,103,100,102,2000\n")
    r = run('data', '--symbol', 'XYZ', '--source', 'csv', '--path', str(p), '--json')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['rows'] == 2

@pytest.mark.parametrize('args,msg', [
    (('data', '--symbol', 'TSLA'), "error: DataError: no bundled data for 'TSLA'"),
    (('data', '--source', 'csv', '--path', '/no/such.csv'), "error: DataError: file not found: /no/such.csv"),
    (('data', '--start', '2030-01-01'), "error: DataError: no rows for AAPL between 2030-01-01"),
    (('data', '--source', 'nowhere'), "invalid choice: 'nowhere'"),
])
def test_bad_input_exit_2(args, msg):
    r = run(*args)
    assert r.returncode == 2
    assert msg in r.stderr and 'Traceback' not in r.stderr
    assert r.stdout == ''


# ---------------------------------------------------------------- the main job
def test_run_on_aapl_reports_and_refuses_when_no_model_passes(tmp_path):
    "The README's main command: on AAPL no model has a significant edge, so the gate refuses (exit 3) and nothing is saved."
    r = run('run', '--symbol', 'AAPL', '--models-dir', str(tmp_path))
    assert r.returncode == 3, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert any(l.startswith('xgb ') for l in lines) and any(l.startswith('lgbm ') for l in lines), r.stdout
    assert 'failed significance' in r.stdout and max(map(len, lines)) <= 100
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: GateError: AAPL: no model passed the validation gate (xgb failed ')
    assert 'Traceback' not in r.stderr and len(err[0].replace(str(tmp_path), 'DIR')) < 300
    assert err[0].endswith(f"(validating again): stocknb run --symbol AAPL --models-dir {tmp_path} --skip-gate")
    assert [p.name for p in tmp_path.iterdir()] == ['.stocknb']                 # the validation history, no model

def test_pipeline_module_validate_only_and_skip_then_predict(tmp_path):
    "MSFT has no daily skill to find: the command says so (exit 3) with the numbers the Python API computes itself."
    from stocknb.pipeline import PipelineConfig, ProductionPipeline
    r = subprocess.run([sys.executable, '-m', 'stocknb.pipeline', '--symbol', 'MSFT', '--models', 'xgb', '--validate-only', '--json',
                        '--models-dir', str(tmp_path)], capture_output=True, text=True, timeout=600)
    api = ProductionPipeline(PipelineConfig(symbol='MSFT', models=('xgb',))).run_validation(record=False, progress=False)
    o = api.results['xgb'].oof_metrics
    assert r.returncode == 3 and not api.passed, (r.stderr[-2000:], api.gates['xgb'].reason)   # no skill, said so
    rep = json.loads(r.stdout)
    assert set(rep['report']) == {'xgb'} and not (tmp_path/'MSFT').exists()
    x = rep['report']['xgb']
    assert (x['passed'], x['oof_n']) == (False, o.n)                     # the JSON keeps 10 significant digits
    assert (x['accuracy'], x['p_value']) == pytest.approx((o.direction_accuracy,
                                                           api.gates['xgb'].parts['significance']['value']), rel=1e-9)
    assert rep['gates']['xgb'] == api.gates['xgb'].reason
    r = run('run', '--symbol', 'MSFT', '--models', 'xgb', '--skip-wfe-check', '--models-dir', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path/'MSFT'/'manifest.json').exists() and (tmp_path/'MSFT'/'xgb'/'model.json').exists()
    r = run('predict', '--symbol', 'MSFT', '--models-dir', str(tmp_path), '--json')
    assert r.returncode == 0, r.stderr[-2000:]
    p = json.loads(r.stdout)
    assert p['as_of'] == '2013-03-01' and p['date'] == '2013-03-04' and p['models_used'] == ['xgb']
    assert p['direction'] in ('up', 'down') and p['position'] in (-1.0, 1.0)
    assert p['gate_overridden'] is True

def test_predict_refuses_tampered_model(tmp_path):
    since = ('--start', '2010-06-01')                   # 690 bars: enough to save a model, a quarter of the work
    r = run('run', '--symbol', 'IBM', *since, '--models', 'xgb', '--skip-wfe-check', '--models-dir', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    f = tmp_path/'IBM'/'xgb'/'gbm.json'
    f.write_text(f.read_text().replace('"seed": 42', '"seed": 43'))
    r = run('predict', '--symbol', 'IBM', *since, '--models-dir', str(tmp_path))
    assert r.returncode == 2 and 'error: ArtifactError:' in r.stderr and 'sha256 mismatch for xgb/gbm.json' in r.stderr

@pytest.mark.parametrize('args,said', [
    (('--symbol', '../victim'), "error: ConfigError: --symbol '../victim' is not a valid ticker"),
    (('--seed', str(2**32)), f"error: ConfigError: --seed must be an integer in [0, {2**32 - 1}]"),
    (('--models', 'prophet'), "argument --models: invalid choice: 'prophet'"),
    (('--source', 'csv'), "error: ConfigError: --path is required with source='csv'"),
    (('--symbol', 'TSLA', '--validate-only'), "error: DataError: no bundled data for 'TSLA'"),
])
def test_both_entry_points_answer_the_same(args, said, tmp_path):
    "`python -m stocknb.pipeline ARGS` is `stocknb run ARGS`: one parser, one message, one exit code, the right one."
    a = subprocess.run([sys.executable, '-m', 'stocknb.pipeline', *args, '--models-dir', str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    b = run('run', *args, '--models-dir', str(tmp_path))
    assert a.returncode == b.returncode == 2, (a.stderr, b.stderr)
    assert said in a.stderr, a.stderr
    assert a.stderr == b.stderr and a.stdout == b.stdout and 'Traceback' not in a.stderr


# ---------------------------------------------------------------- stacking from the command line
def test_run_stacking_trains_the_ensemble_and_predicts_with_confidence(tmp_path):
    "`--stacking` on planted bars: the stack's row in the report, the ensemble trained, `predict` prints its confidence."
    from stocknb.data import planted_signal_ohlcv
    df = planted_signal_ohlcv(6000, phi=0.2, seed=7)
    p = tmp_path/'planted.csv'
    df.iloc[:-5].to_csv(p, index_label='Date')
    r = run('run', '--symbol', 'PL', '--source', 'csv', '--path', str(p), '--stacking', '--models-dir', str(tmp_path/'m'))
    assert r.returncode == 0, r.stderr[-2000:]
    assert any(l.startswith('stack ') for l in r.stdout.splitlines()) and 'Holm-adjusted over 3 tests' in r.stdout
    man = json.loads((tmp_path/'m'/'PL'/'manifest.json').read_text())
    assert man['models'] == ['xgb', 'lgbm', 'stack'] and man['config']['stacking'] is True
    df.to_csv(p, index_label='Date')
    r = run('predict', '--symbol', 'PL', '--source', 'csv', '--path', str(p), '--models-dir', str(tmp_path/'m'))
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'calibrated confidence' in r.stdout and 'models xgb, lgbm, stack' in r.stdout and 'regime:' in r.stdout

def test_multiple_testing_choice_is_checked():
    r = run('run', '--multiple-testing', 'bonferroni')
    assert r.returncode == 2 and "invalid choice: 'bonferroni'" in r.stderr


# ---------------------------------------------------------------- skill means timing, in every output
def test_run_json_states_the_skill_free_null_and_the_correction_used(tmp_path):
    "JSON: up-shares, skill-free accuracy, excess ± s.e., the p used (BH over the 2 models here), Sharpe vs B&H."
    from stocknb.metrics import adjust_pvalues
    r = run('run', '--symbol', 'IBM', '--validate-only', '--json', '--multiple-testing', 'bh', '--models-dir',
            str(tmp_path))
    assert r.returncode == 3, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out['correction'] == {'method': 'bh', 'm': 2, 'scope': 'the models of this run'}
    rep = out['report']
    for m, x in rep.items():
        assert x['excess'] == pytest.approx(x['accuracy'] - x['skill_free'], abs=1e-9)     # JSON keeps 10 digits
        px, py = x['pred_up'], x['outcome_up']
        assert x['skill_free'] == pytest.approx(px * py + (1 - px) * (1 - py))
        assert x['sharpe_vs_hold'] == pytest.approx(x['sharpe'] - x['hold_sharpe']) and 0 < x['excess_se'] < 0.02
        assert 0 < x['coin_p'] <= 1 and 0 < x['p_raw'] <= 1
    adj = adjust_pvalues({m: x['p_raw'] for m, x in rep.items()}, 'bh')
    assert all(rep[m]['p_value'] == pytest.approx(adj.loc[m, 'adjusted_p']) for m in rep)

def test_run_table_fits_100_columns_and_explains_its_columns(tmp_path):
    r = run('run', '--symbol', 'GOOG', '--validate-only', '--models-dir', str(tmp_path))
    assert r.returncode == 3, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    head = next(l for l in lines if l.startswith('model '))
    assert head.split() == ['model', 'accuracy', 'skill-free', 'excess', '±', 's.e.', 'up:', 'calls/days', 'p',
                            'Sharpe', 'B&H', 'decision']
    assert max(map(len, lines)) <= 100 and 'Pesaran–Timmermann' in r.stdout
    assert 'buy & hold over the same days' in r.stdout


# ---------------------------------------------------------------- a quiet command line
import os, re, time

START_UP = re.compile(r"absl::InitializeLog|cudart_stub|cuda drivers|cuInit|oneDNN|cpu_feature_guard|"
                      r"This TensorFlow binary|^[IWEF]\d{4} \d\d:\d\d:|^WARNING:tensorflow", re.M)
TF_ARGS = ('--models', 'lstm', '--symbol', 'IBM', '--validate-only', '--start', '2013-01-01')
TOO_FEW = "error: DataError: IBM: 41 bars are too few for a walk-forward run: need at least 621"

def user_env(**env):
    "A user's shell: no TF_CPP_MIN_LOG_LEVEL or STOCKNB_LOG_LEVEL (conftest sets one), oneDNN on so its notice shows."
    base = {k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'STOCKNB_LOG_LEVEL')}
    return base | {'TF_ENABLE_ONEDNN_OPTS': '1'} | env

def run_env(*args, env):
    return subprocess.run([sys.executable, '-m', 'stocknb.cli', *args], capture_output=True, text=True, timeout=300,
                          env=env)

def tf_env(**env):
    "A user who chose TensorFlow as Keras' backend (the `tensorflow` extra; stocknb's default is JAX)."
    pytest.importorskip('tensorflow', reason='the TensorFlow backend\'s tests: pip install -e ".[tensorflow]"')
    return user_env(KERAS_BACKEND='tensorflow', **env)

@pytest.mark.parametrize('args,env,noisy', [
    ((), {}, False),                                             # the default: nothing but the one error line
    (('--log-level', 'debug'), {}, True),                        # DEBUG shows what TensorFlow writes
    ((), {'STOCKNB_LOG_LEVEL': 'debug'}, True),
    ((), {'TF_CPP_MIN_LOG_LEVEL': '0'}, True),                   # a user's own setting wins
])
def test_tensorflow_start_up_lines(args, env, noisy, tmp_path):
    "The cheapest command that imports TensorFlow (the lstm settings are checked, then too few bars: exit 2)."
    r = run_env(*args, 'run', *TF_ARGS, '--models-dir', str(tmp_path), env=tf_env(**env))
    assert r.returncode == 2 and TOO_FEW in r.stderr, r.stderr[-3000:]
    assert bool(START_UP.search(r.stderr)) == noisy, r.stderr[-3000:]
    if not noisy: assert r.stderr.strip().splitlines() == [r.stderr.strip()], r.stderr     # one line

def test_tensorflow_start_up_lines_in_universe_workers(tmp_path):
    "The setting reaches loky's worker processes: quiet by default, and with DEBUG the workers' lines show too."
    from joblib import cpu_count
    if cpu_count() < 2: pytest.skip('one core: a run uses no worker process (one per symbol and per core at most)')
    args = ('universe', '--models', 'lstm', '--symbols', 'IBM,MSFT', '--start', '2013-01-01', '--n-jobs', '2',
            '--models-dir', str(tmp_path))                  # two symbols: two worker processes (one would run here)
    quiet, debug = run_env(*args, env=tf_env()), run_env('--log-level', 'debug', *args, env=tf_env())
    for r in (quiet, debug):
        assert r.returncode == 2 and r.stdout.startswith('2 symbol(s) on loky (2 worker processes on this machine)')
        assert 'IBM (validation): DataError: IBM: 41 bars' in r.stdout
        assert 'MSFT (validation): DataError: MSFT: 41 bars' in r.stdout
    assert not START_UP.search(quiet.stderr), quiet.stderr[-3000:]
    writers = set(re.findall(r"^[IWEF]\d{4} \S+ +(\d+) ", debug.stderr, re.M))   # absl lines carry the thread id
    assert len(writers) >= 2, debug.stderr[-3000:]                                 # the parent's and the worker's

def test_jax_backend_writes_no_start_up_line(tmp_path):
    """On the default backend (JAX, no TensorFlow imported) an lstm command's stderr is its one error line, in the
    parent and in two universe workers. (XLA's C++ code reads TF_CPP_MIN_LOG_LEVEL as TensorFlow's does: with
    --log-level debug, or the variable at 0, its INFO lines show, e.g. "PjRt-IFRT device count".)"""
    env = {k: v for k, v in user_env().items() if k != 'KERAS_BACKEND'}
    r = run_env('run', *TF_ARGS, '--models-dir', str(tmp_path), env=env)
    assert r.returncode == 2 and TOO_FEW in r.stderr, r.stderr[-3000:]
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and not START_UP.search(r.stderr), r.stderr[-3000:]
    r = run_env('universe', '--models', 'lstm', '--symbols', 'IBM,MSFT', '--start', '2013-01-01', '--n-jobs', '2',
                '--models-dir', str(tmp_path), env=env)
    assert r.returncode == 2 and 'MSFT (validation): DataError: MSFT: 41 bars' in r.stdout, r.stdout
    assert not START_UP.search(r.stderr), r.stderr[-3000:]

def test_log_level_from_the_environment(tmp_path):
    "--log-level defaults to $STOCKNB_LOG_LEVEL (INFO lines appear), else WARNING; the option wins over it."
    from stocknb.data import random_walk_ohlcv
    p = tmp_path/'walk.csv'
    random_walk_ohlcv(800, seed=3).to_csv(p, index_label='Date')
    args = ('run', '--symbol', 'WALK', '--source', 'csv', '--path', str(p), '--models', 'xgb', '--validate-only',
            '--models-dir', str(tmp_path))
    info = re.compile(r' INFO +stocknb\.')
    assert info.search(run_env(*args, env=user_env(STOCKNB_LOG_LEVEL='info')).stderr)
    assert not info.search(run_env(*args, env=user_env()).stderr)
    assert not info.search(run_env('--log-level', 'warning', *args, env=user_env(STOCKNB_LOG_LEVEL='info')).stderr)
    r = run_env('data', env=user_env(STOCKNB_LOG_LEVEL='loud'))
    assert (r.returncode, r.stdout) == (2, '')
    assert r.stderr.startswith("error: ConfigError: unknown log level 'loud' in $STOCKNB_LOG_LEVEL; expected DEBUG")


# ---------------------------------------------------------------- hostile input: refused at once, by name
E = 'error: ConfigError: '
@pytest.mark.parametrize('args,message', [
    pytest.param(('train', 'lstm', '--symbol', 'IBM', '--models', 'xgb'),
                 'stocknb: error: unrecognized arguments: --models xgb', id='train-models-not-models-dir'),
    pytest.param(('train', 'lstm', '--symbol', 'IBM', '--epochs', '99999999999999999999'),
                 E + '--epochs must be an integer in [1, 10000]; got 99999999999999999999', id='epochs-huge'),
    pytest.param(('train', 'xlstm', '--batch-size', '0'),
                 E + '--batch-size must be an integer in [1, 65536]; got 0', id='batch-size-0'),
    pytest.param(('train', 'lstm', '--lookback', '100000'),
                 E + '--lookback must be an integer in [1, 1000]; got 100000', id='lookback-huge'),
    pytest.param(('run', '--seed', '-1'),
                 E + '--seed must be an integer in [0, 4294967295]; got -1', id='seed-negative'),
    pytest.param(('run', '--model', 'xgb'), 'stocknb: error: unrecognized arguments: --model xgb', id='run-prefix'),
    pytest.param(('--log=debug', 'data'), 'stocknb: error: unrecognized arguments: --log=debug', id='main-prefix'),
    pytest.param(('universe', '--k', '0'), E + '--k must be an integer in [1, 1000]; got 0', id='k-0'),
    pytest.param(('universe', '--symbols', 'AAPL,MSFT,IBM,GOOG', '--k', '100'),
                 E + '--k 100 needs at least 200 symbols (100 long, 100 short); the universe has 4; use --k 2 or less',
                 id='k-100-of-4'),
    pytest.param(('universe', '--symbols', 'AAPL', '--k', '1'),
                 E + '--k 1 needs at least 2 symbols (1 long, 1 short); the universe has 1; give at least 2 symbols',
                 id='k-1-of-1'),
    pytest.param(('universe', '--n-jobs', '0'),
                 E + '--n-jobs must be -1 (all workers) or an integer in [1, 1024]; got 0', id='n-jobs-0'),
    pytest.param(('universe', '--n-jobs', '99999999999'),
                 E + '--n-jobs must be -1 (all workers) or an integer in [1, 1024]; got 99999999999', id='n-jobs-huge'),
])
def test_hostile_integers_and_abbreviations_exit_2_at_once(args, message, tmp_path):
    t0 = time.perf_counter()
    r = run(*args, *(() if 'data' in args else ('--models-dir', str(tmp_path))))
    seconds = time.perf_counter() - t0
    assert r.returncode == 2 and message in r.stderr, r.stderr[-2000:]
    # at once: a Python start-up and the imports (2–3 s on 2 idle cores, up to 10 s on busy ones), never a run
    # (one symbol's validation alone takes over 30 s); nothing written is checked below
    assert 'Traceback' not in r.stderr and r.stdout == '' and seconds < 20, seconds
    assert list(tmp_path.iterdir()) == []                                         # no work, nothing written
