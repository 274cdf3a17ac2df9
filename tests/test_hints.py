"""Every hint stocknb prints, pasted as written, gets the user where it says.

Each test provokes the real error, takes the hint's text from it, and runs it: a command-line hint through
`shlex.split` as a real subprocess (placeholders such as FILE or DIR replaced by a real file or folder, as a
user would), a Python hint with `exec` against the objects it names. Small data keeps each run to seconds:
the bundled IBM bars from 2009-06 (about 940 days, two GBMs) or a short random-walk CSV."""
import json, os, re, shlex, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from stocknb.core import ArtifactError, DataError, GateError, StateError
from stocknb.data import load_csv, load_ohlcv, random_walk_ohlcv
from stocknb.pipeline import PipelineConfig, ProductionModel, ProductionPipeline

def cli(*args, env=None):
    "Run `stocknb ARGS` (the console script's module) in a fresh process; stdout and stderr as text."
    return subprocess.run([sys.executable, '-m', 'stocknb.cli', *args], capture_output=True, text=True, timeout=600,
                          env=None if env is None else {**os.environ, **env})

def pasted(command:str, env=None):
    "Run a command exactly as a hint prints it: `stocknb ...`, split as a POSIX shell would."
    words = shlex.split(command)
    assert words[0] == 'stocknb', command
    return cli(*words[1:], env=env)

def error_of(r) -> str:
    "The one `error: ...` line of a failed command."
    lines = r.stderr.strip().splitlines()
    assert lines and lines[-1].startswith('error: ') and 'Traceback' not in r.stderr, r.stderr[-2000:]
    return lines[-1]

def manifest(root, sym) -> dict: return json.loads((Path(root)/sym/'manifest.json').read_text())

@pytest.fixture(scope='module')
def walk_csv(tmp_path_factory) -> Path:
    "800 days of a random walk: no skill to find, so the gate refuses every model."
    p = tmp_path_factory.mktemp('csv')/'walk.csv'
    random_walk_ohlcv(800, seed=3).to_csv(p, index_label='Date')
    return p

TRAIN = re.compile(r"train one first: (stocknb .+?); if no model passes the gate \(exit 3\), (stocknb .+?) trains one "
                   r"anyway, marked as overridden$")


# ---------------------------------------------------------------- the command line
def test_predict_without_a_model_bundled_data(tmp_path):
    "The README's case: on the bundled data nothing passes, so the first command exits 3 and the second saves a model."
    models = tmp_path/'models'
    predict = ['predict', '--symbol', 'IBM', '--start', '2009-06-01', '--models-dir', str(models)]
    r = cli(*predict)
    assert r.returncode == 2
    first, second = TRAIN.search(error_of(r)).groups()
    assert first == f"stocknb run --symbol IBM --start 2009-06-01 --models-dir {models}"
    r = pasted(first)
    assert r.returncode == 3 and 'no model passed the validation gate' in error_of(r)
    assert not (models/'IBM').exists()
    r = pasted(second)
    assert r.returncode == 0, r.stderr[-2000:]
    assert manifest(models, 'IBM')['gate_overridden'] is True
    r = cli(*predict, '--json')                                  # where the hint said it would get the user
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)['gate_overridden'] is True

    # the in-sample refusal says which bars to use instead; both ways it names work
    r = cli(*predict, '--end', '2012-06-01')
    assert r.returncode == 2
    day = re.search(r"use bars that end after (\d{4}-\d\d-\d\d): a later --end or none, or a newer file$",
                    error_of(r))[1]
    later = (pd.Timestamp(day) + pd.offsets.BDay(1)).strftime('%Y-%m-%d')
    assert cli(*predict, '--end', later).returncode == 0
    assert cli(*predict).returncode == 0

def test_predict_without_a_model_csv_repeats_the_data_settings(tmp_path, walk_csv):
    models = tmp_path/'m'
    predict = ['predict', '--symbol', 'WALK', '--source', 'csv', '--path', str(walk_csv), '--models-dir', str(models)]
    first, second = TRAIN.search(error_of(cli(*predict))).groups()
    assert shlex.split(first)[2:] == ['--symbol', 'WALK', *predict[3:]]
    assert pasted(first).returncode == 3
    assert pasted(second).returncode == 0
    r = cli(*predict)
    assert r.returncode == 0 and 'WALK' in r.stdout, r.stderr[-2000:]

def test_gate_refusal_gives_the_command_that_trains_anyway(tmp_path, walk_csv):
    args = ['run', '--symbol', 'WALK', '--source', 'csv', '--path', str(walk_csv), '--models', 'xgb',
            '--models-dir', str(tmp_path)]
    r = cli(*args)
    assert r.returncode == 3 and not (tmp_path/'WALK').exists()
    again = re.search(r"; to train anyway, marked as overridden \(validating again\): (stocknb .+)$", error_of(r))[1]
    assert shlex.split(again) == ['stocknb', *args, '--skip-gate']
    r = pasted(again)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1].endswith('marked as overridden: no model passed the gate')
    assert manifest(tmp_path, 'WALK')['gate_overridden'] is True

def test_unwritable_models_folder(tmp_path, walk_csv):
    "'choose another with --models-dir DIR or $STOCKNB_MODELS_DIR': both, with a real folder for DIR."
    (tmp_path/'file').write_text('x')
    args = ['run', '--symbol', 'WALK', '--source', 'csv', '--path', str(walk_csv), '--models', 'xgb', '--skip-gate']
    r = cli(*args, '--models-dir', str(tmp_path/'file'))
    assert r.returncode == 2
    assert error_of(r).endswith('; choose another with --models-dir DIR or $STOCKNB_MODELS_DIR')
    assert cli(*args, '--models-dir', str(tmp_path/'a')).returncode == 0 and (tmp_path/'a'/'WALK').is_dir()
    assert cli(*args, env={'STOCKNB_MODELS_DIR': str(tmp_path/'b')}).returncode == 0 and (tmp_path/'b'/'WALK').is_dir()

def test_csv_hints(tmp_path):
    "Decimal mark, separator, a missing --path, a --path without --source csv, an unbundled symbol."
    f = tmp_path/'f.csv'
    f.write_text('Date,Open,High,Low,Close,Volume\n2020-01-02,"1,250","1,300","1,200","1,280",1000\n')
    r = cli('data', '--source', 'csv', '--path', str(f), '--json')
    options = re.search(r"; (pass --decimal , or --decimal \.)$", error_of(r))[1]
    for opt in re.findall(r"--decimal \S+", options):
        r = cli('data', '--source', 'csv', '--path', str(f), '--json', *shlex.split(opt))
        assert r.returncode == 0 and json.loads(r.stdout)['last_close'] in (1.28, 1280.0), r.stderr

    g = tmp_path/'g.csv'                                       # as many commas as pipes in the header
    g.write_text('Date|Open|High|Low|Close|Volume|Comment, with, commas, as, many, as, pipes\n'
                 '2020-01-02|1|2|0.5|1.5|10|x\n')
    r = cli('data', '--source', 'csv', '--path', str(g))
    assert r.returncode == 2
    options = re.findall(r"--sep \S+", error_of(r).split('; pass ')[1])
    assert options == ['--sep ,', "--sep '|'"]
    assert cli('data', '--source', 'csv', '--path', str(g), *shlex.split(options[1])).returncode == 0
    h = tmp_path/'h.csv'                                       # no separator stocknb reads: no --sep hint at all
    h.write_text('Date Open High Low Close Volume\n2020-01-02 1 2 0.5 1.5 10\n')
    e = error_of(cli('data', '--source', 'csv', '--path', str(h)))
    assert 'holds none of the column separators stocknb reads' in e and '--sep' not in e

    f.write_text('Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,10\n')
    for args in (['data', '--source', 'csv'], ['run', '--source', 'csv']):
        e = error_of(cli(*args))
        assert e.endswith(('pass --path FILE', '--source csv needs --path FILE')), e
        if args[0] == 'data': assert cli(*args, '--path', str(f)).returncode == 0
    e = error_of(cli('data', '--path', str(f)))
    assert e.endswith('--path, --sep and --decimal need --source csv'), e
    assert cli('data', '--path', str(f), '--source', 'csv').returncode == 0
    e = error_of(cli('data', '--symbol', 'TSLA'))
    assert e.endswith('for other symbols use --source csv --path FILE, or --source yfinance (online)'), e
    assert cli('data', '--symbol', 'TSLA', '--source', 'csv', '--path', str(f)).returncode == 0

def test_universe_hints(tmp_path):
    "An unbundled symbol (--data-dir FOLDER), and a --k too large for the universe (the largest --k that fits)."
    e = error_of(cli('universe', '--symbols', 'TSLA', '--models', 'xgb'))
    assert e.endswith('use --data-dir FOLDER for CSV files or --source yfinance (online)'), e
    (tmp_path/'d').mkdir()
    random_walk_ohlcv(800, seed=5).to_csv(tmp_path/'d'/'TSLA.csv', index_label='Date')
    r = cli('universe', '--symbols', 'TSLA', '--models', 'xgb', '--data-dir', str(tmp_path/'d'), '--n-jobs', '1',
            '--models-dir', str(tmp_path/'m'))
    assert r.returncode == 0 and 'TSLA' in r.stdout, r.stderr[-2000:]

    args = ['universe', '--symbols', 'AAPL,MSFT,IBM,GOOG', '--models', 'xgb', '--start', '2009-06-01', '--n-jobs', '2',
            '--models-dir', str(tmp_path/'m')]
    e = error_of(cli(*args, '--k', '3'))
    k = re.search(r"; use (--k \d+) or less$", e)[1]
    r = cli(*args, *k.split())
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'ls_turnover in × equity per year' in ' '.join(r.stdout.split())

def test_bad_log_level_variable(tmp_path):
    "'set $STOCKNB_LOG_LEVEL to one of them, or unset it': both work."
    r = cli('data', '--symbol', 'IBM', env={'STOCKNB_LOG_LEVEL': 'loud'})
    assert r.returncode == 2 and error_of(r).endswith('set $STOCKNB_LOG_LEVEL to one of them, or unset it')
    assert cli('data', '--symbol', 'IBM', env={'STOCKNB_LOG_LEVEL': 'warning'}).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != 'STOCKNB_LOG_LEVEL'}
    r = subprocess.run([sys.executable, '-m', 'stocknb.cli', 'data', '--symbol', 'IBM'], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- Python
def hint_of(call) -> str:
    "The `hint` of the stocknb error `call()` raises."
    try: call()
    except (ArtifactError, DataError, GateError, StateError) as e:
        assert e.hint, e
        return e.hint
    raise AssertionError('no error')

def test_python_hints_lead_to_a_saved_model_and_a_prediction(tmp_path):
    "From a pipeline with nothing saved to a prediction, following only the hints."
    cfg = PipelineConfig(symbol='IBM', start='2009-06-01', models_dir=str(tmp_path))
    pipe = ProductionPipeline(cfg)
    h = hint_of(pipe.predict)
    first, second = re.search(r"train one first: (.+?); if no model passes the gate \(GateError\), (.+?) trains one "
                              r"anyway, marked as overridden$", h).groups()
    assert first == ("p = ProductionPipeline(PipelineConfig(symbol='IBM', start='2009-06-01', "
                     f"models_dir={str(tmp_path)!r})); p.run_validation(); p.train_production()")
    ns = {'ProductionPipeline': ProductionPipeline, 'PipelineConfig': PipelineConfig}
    with pytest.raises(GateError): exec(first, ns)              # on the bundled data nothing passes, as the hint says
    assert not (tmp_path/'IBM').exists()
    exec(second, ns)
    assert manifest(tmp_path, 'IBM')['gate_overridden'] is True
    r = pipe.predict()
    assert r.gate_overridden and r.models_used == ['xgb', 'lgbm']

    # a step before its validation: the hint names the call that comes first
    h = hint_of(pipe.backtest)
    call = re.match(r"call (run_validation\(\)) first", h)[1]
    exec(f"pipe.{call}", {'pipe': pipe})
    assert {'xgb (OOF)', 'lgbm (OOF)'} <= set(pipe.backtest().index)

    # bars that end inside the training data
    early = load_ohlcv('IBM', start='2009-06-01', end='2012-06-01')
    h = hint_of(lambda: pipe.predict(early))
    day, arg = re.match(r"pass bars that end after (\S+), or (allow_in_sample=True) for a marked result$", h).groups()
    r = eval(f"pipe.predict(early, {arg})", {'pipe': pipe, 'early': early})
    assert r.in_sample and '[IN-SAMPLE' in str(r)
    assert not pipe.predict(load_ohlcv('IBM', start='2009-06-01')).in_sample     # bars that end after `day`
    assert load_ohlcv('IBM').index[-1] > pd.Timestamp(day)

def test_gate_hint_trains_on_the_same_pipeline_without_validating_again(tmp_path, walk_csv, monkeypatch):
    "GateError's `train_production(skip_gate=True)`: no TypeError, no second validation, recorded as the flag is."
    bars = load_csv(walk_csv)
    pipe = ProductionPipeline(PipelineConfig(symbol='WALK', models=('xgb',), models_dir=str(tmp_path)))
    rep = pipe.run_validation(data=bars)
    assert not rep.passed
    h = hint_of(lambda: pipe.train_production(data=bars))
    call = re.search(r"numbers; (train_production\(.*?\)) trains anyway, marked as overridden$", h)[1]
    assert call == 'train_production(data=..., skip_gate=True)'
    monkeypatch.setattr(ProductionPipeline, 'run_validation', lambda *a, **k: pytest.fail('validated again'))
    pm = eval('pipe.' + call.replace('...', 'bars'), {'pipe': pipe, 'bars': bars})
    flag = ProductionPipeline(PipelineConfig(symbol='WALK', models=('xgb',), models_dir=str(tmp_path/'flag'),
                                             skip_gate=True))
    flag.report_ = rep                                             # the same validation, trained with the config flag
    pm_flag = flag.train_production(data=bars)
    for m in (pm.manifest, pm_flag.manifest):
        assert m['gate_overridden'] is True and m['config']['skip_gate'] is True and m['validation_id'] == rep.id
    assert manifest(tmp_path, 'WALK')['gate_skipped_checks'] == pm_flag.manifest['gate_skipped_checks']
    assert pipe.config.skip_gate is False                          # the pipeline's own settings are unchanged
    assert ProductionModel.load('WALK', tmp_path).config.skip_gate is True

    # other bars than the validated ones: the hint says to validate these first
    h = hint_of(lambda: pipe.train_production(data=bars.iloc[:-20]))
    assert h == "call run_validation(data=...) with these same bars first"
