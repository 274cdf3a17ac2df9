"""The bad-input suite: files, configs, the command line, artifacts and processes.

Every case runs in its own "world" (a temporary folder holding the models root, input files, a victim folder
beside the root, the current directory and the cache) and asserts
- the error type and a message that names what to fix,
- the exit code, for command-line cases (2 bad input, 3 gate, 0 handled),
- that no file outside the world's models root changed, was added or was removed (a sha256 snapshot),
- and, for refused cases, that the saved models inside the root are unchanged too.
Command-line cases run `stocknb.cli.main` in-process (the console script itself is covered at the end and in
tests/test_cli.py), so the whole suite takes seconds apart from one small training run shared by the
artifact cases."""
import hashlib, json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from stocknb.core import ArtifactError, ConfigError, DataError, GateError
from stocknb.cli import main
from stocknb.data import planted_signal_ohlcv, random_walk_ohlcv
from stocknb.artifacts import write_artifact, read_json, write_json, json_sha256, artifact_lock

# ---------------------------------------------------------------- the world and its snapshot
def snapshot(top:Path, skip:Path|None=None) -> dict:
    "sha256 of every file and the list of every folder under `top`, `skip` (and everything in it) excluded."
    out = {}
    for p in sorted(top.rglob('*')):
        if skip is not None and (p == skip or skip in p.parents): continue
        out[p.relative_to(top).as_posix()] = (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink()
                                              else 'dir' if p.is_dir() else 'link')
    return out

def models_snapshot(root:Path) -> dict:
    "The saved artifacts under the models root: everything except the workspace (history, locks)."
    return {k: v for k, v in snapshot(root).items() if not k.startswith('.stocknb')}

def csv(df:pd.DataFrame) -> str:
    return df.rename_axis('Date').reset_index().to_csv(index=False, float_format='%.6f')

BARS = planted_signal_ohlcv(900, phi=0.2, seed=1)
HEAD = "Date,Open,High,Low,Close,Volume\n"

def bars(n=900, edits=None) -> pd.DataFrame:
    "The first `n` planted bars, with `edits` {(row, column): value} applied."
    df = BARS.iloc[:n].copy()
    for (i, col), v in (edits or {}).items(): df.iloc[i, df.columns.get_loc(col)] = v
    return df

@pytest.fixture
def world(tmp_path, monkeypatch):
    w = tmp_path/'world'
    for d in ('models', 'data', 'victim', 'home', 'cache'): (w/d).mkdir(parents=True)
    (w/'victim'/'keep.txt').write_text('not yours')
    write_artifact(w/'models'/'OTHER', lambda t: (t/'model.json').write_text('{"x": 1}'), {'note': 'another symbol'})
    monkeypatch.chdir(w)
    monkeypatch.setenv('STOCKNB_MODELS_DIR', str(w/'models'))
    monkeypatch.setenv('STOCKNB_CACHE_DIR', str(w/'cache'))
    monkeypatch.setenv('HOME', str(w/'home'))
    return w

def run_cli(world, args, capsys):
    "Run the CLI in-process; returns (code, stdout, stderr)."
    args = [a.format(data=world/'data', models=world/'models', world=world) for a in args]
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err

def check_world(world, before, models_before, refused):
    assert snapshot(world, skip=world/'models') == before, "a file outside the models root changed"
    if refused: assert models_snapshot(world/'models') == models_before, "a saved model changed"

# ---------------------------------------------------------------- command-line cases
# id: (files to write into data/, CLI args, exit code, error type printed, text that must be in stderr (or stdout for 0))
CLI = {
    # CSV files
    'csv-decimal-comma-read-right': ({'f.csv': HEAD + '2020-01-02,"99,50","100,10","99,00","99,93",1000\n'},
                                     ['data', '--source', 'csv', '--path', '{data}/f.csv', '--json'], 0, None, '"last_close": 99.93'),
    'csv-semicolon-european': ({'f.csv': 'Date;Open;High;Low;Close;Volume\n2020-01-02;99,5;100,1;99;99,93;1.000.000\n'},
                               ['data', '--source', 'csv', '--path', '{data}/f.csv', '--json'], 0, None, '"last_close": 99.93'),
    'csv-decimal-ambiguous': ({'f.csv': HEAD + '2020-01-02,"1,250","1,300","1,200","1,280",1000\n'},
                              ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError',
                              "cannot tell whether ',' in '1,250' (column 'Open') is a decimal mark or a thousands separator; pass --decimal"),
    'csv-decimal-given': ({'f.csv': HEAD + '2020-01-02,"1,250","1,300","1,200","1,280",1000\n'},
                          ['data', '--source', 'csv', '--path', '{data}/f.csv', '--decimal', '.', '--json'], 0, None, '"last_close": 1280.0'),
    'csv-decimal-mixed': ({'f.csv': HEAD + '2020-01-02,"99,5",100.1,99,99.93,1000\n'},
                          ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', 'the file mixes conventions'),
    'csv-semicolon-dot-thousands': ({'f.csv': 'Date;Open;High;Low;Close;Volume\n2020-01-02;3.060;3.100;3.050;3.070;12000\n'},
                                    ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError',
                                    "cannot tell whether '.' in '3.060' (column 'Open') is a decimal mark or a thousands separator "
                                    "(files separated by semicolons often group thousands with '.'); pass --decimal , or --decimal ."),
    'csv-semicolon-dot-thousands-given': ({'f.csv': 'Date;Open;High;Low;Close;Volume\n2020-01-02;3.060;3.100;3.050;3.070;12000\n'},
                                          ['data', '--source', 'csv', '--path', '{data}/f.csv', '--decimal', ',', '--json'], 0, None,
                                          '"last_close": 3070.0'),
    'csv-mixed-offsets-on-dates': ({'f.csv': HEAD + '2020-01-02+00:00,1,2,0.5,1.5,10\n2020-01-03-05:00,1,2,0.5,1.5,10\n'},
                                   ['data', '--source', 'csv', '--path', '{data}/f.csv', '--json'], 0, None,
                                   '"last_date": "2020-01-03"'),
    'csv-utc-offsets-across-dst': ({'f.csv': HEAD + '2020-03-06 00:00:00-05:00,1,2,0.5,1.5,10\n2020-03-09 00:00:00-04:00,1,2,0.5,1.5,10\n'},
                                   ['data', '--source', 'csv', '--path', '{data}/f.csv', '--json'], 0, None, '"first_date": "2020-03-06"'),
    'csv-same-day-twice': ({'f.csv': HEAD + '2020-01-02,1,2,0.5,1.5,10\n2020-01-02 16:00,1,2,0.5,1.5,10\n'},
                           ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', '1 day(s) hold more than one bar; first: 2020-01-02'),
    'csv-three-year-hole-warned': ({'f.csv': csv(pd.concat([bars(300), bars(600).iloc[300:].shift(3 * 365, freq='D')]))},
                                   ['data', '--source', 'csv', '--path', '{data}/f.csv'], 0, None,
                                   'warning          1 hole(s) in the bars longer than 10 calendar days'),
    'csv-1000x-spike': ({'f.csv': csv(bars(edits={(400, 'Open'): BARS['Open'].iloc[400] * 1000, (400, 'High'): BARS['High'].iloc[400] * 1000,
                                              (400, 'Low'): BARS['Low'].iloc[400] * 1000, (400, 'Close'): BARS['Close'].iloc[400] * 1000}))},
                        ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', "one-day spike in column 'Close' on 1 row(s)"),
    'csv-100x-unit-change': ({'f.csv': csv(pd.concat([bars(400), bars(900).iloc[400:] * [1000, 1000, 1000, 1000, 1]]))},
                             ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', "one-day move of"),
    'csv-folder-as-file': ({}, ['data', '--source', 'csv', '--path', '{data}'], 2, 'DataError', 'expected a CSV file; got a folder'),
    'csv-missing-file': ({}, ['data', '--source', 'csv', '--path', '{data}/nope.csv'], 2, 'DataError', 'file not found'),
    'csv-binary': ({'f.csv': b'\x89PNG\r\n\x1a\n\x00\xff\xfe'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError',
                   'not a UTF-8 text file'),
    'csv-empty': ({'f.csv': ''}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', 'not a readable CSV file'),
    'csv-header-only': ({'f.csv': HEAD}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', 'no data rows'),
    'csv-no-close': ({'f.csv': 'Date,Open,High,Low,Volume\n2020-01-02,1,2,0.5,10\n'},
                     ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', "column 'Close' missing"),
    'csv-day-first-dates': ({'f.csv': HEAD + '31/12/2020,1,2,0.5,1.5,10\n'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2,
                            'DataError', "unreadable date in column 'Date' at row 0: '31/12/2020'"),
    'csv-no-separator': ({'f.csv': 'Date Open High Low Close Volume\n'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2,
                         'DataError', 'holds none of the column separators stocknb reads (comma, semicolon, tab'),
    'csv-bad-sep-option': ({'f.csv': HEAD}, ['data', '--source', 'csv', '--path', '{data}/f.csv', '--sep', '/'], 2, 'ConfigError',
                           "sep must be one of"),
    'csv-nan-close': ({'f.csv': HEAD + '2020-01-02,1,2,0.5,,10\n'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError',
                      "NaN in column 'Close'"),
    'csv-negative-price': ({'f.csv': HEAD + '2020-01-02,-1,2,-2,1.5,10\n'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2,
                           'DataError', "non-positive price in column 'Open'"),
    'csv-high-below-close': ({'f.csv': HEAD + '2020-01-02,1,1.2,0.5,1.5,10\n'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2,
                             'DataError', 'High below max(Open, Close)'),
    'csv-duplicate-dates': ({'f.csv': HEAD + '2020-01-02,1,2,0.5,1.5,10\n2020-01-02,1,2,0.5,1.5,10\n'},
                            ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2, 'DataError', 'duplicate dates'),
    'csv-text-in-numbers': ({'f.csv': HEAD + '2020-01-02,1,2,0.5,abc,10\n'}, ['data', '--source', 'csv', '--path', '{data}/f.csv'], 2,
                            'DataError', "non-numeric value in column 'Close'"),
    'csv-constant-price-run': ({'f.csv': csv(bars().assign(Open=100.0, High=100.0, Low=100.0, Close=100.0))},
                               ['run', '--source', 'csv', '--path', '{data}/f.csv', '--symbol', 'FLAT'], 2, 'DataError',
                               'FLAT: the close never changes over the 900 bars'),
    'csv-too-few-rows-run': ({'f.csv': csv(bars(300))}, ['run', '--source', 'csv', '--path', '{data}/f.csv', '--symbol', 'X'], 2,
                             'DataError', 'bars are too few for a walk-forward run'),
    # symbols: never a path
    'symbol-dot': ({}, ['run', '--symbol', '.'], 2, 'ConfigError', "--symbol '.' is not a valid ticker: a symbol is 1–20 characters"),
    'symbol-dotdot-victim': ({}, ['run', '--symbol', '../victim'], 2, 'ConfigError', "'../victim' is not a valid ticker"),
    'symbol-absolute': ({}, ['run', '--symbol', '/x/abs'], 2, 'ConfigError', "'/x/abs' is not a valid ticker"),
    'symbol-nested': ({}, ['run', '--symbol', 'A/B'], 2, 'ConfigError', "'A/B' is not a valid ticker"),
    'symbol-empty': ({}, ['data', '--symbol', ''], 2, 'ConfigError', "symbol '' is not a valid ticker"),
    'symbol-predict-dotdot': ({}, ['predict', '--symbol', '..'], 2, 'ConfigError', "'..' is not a valid ticker"),
    'symbol-unknown-sample': ({}, ['data', '--symbol', 'TSLA'], 2, 'DataError',
                              "no bundled data for 'TSLA'; bundled: AAPL, GOOG, IBM, MSFT; for other symbols use --source csv --path FILE"),
    # settings
    'seed-2**32': ({}, ['run', '--seed', str(2**32)], 2, 'ConfigError', '--seed must be an integer in [0, 4294967295]; got 4294967296'),
    'seed-not-a-number': ({}, ['run', '--seed', 'abc'], 2, None, "argument --seed: invalid int value: 'abc'"),
    'alpha-out-of-range': ({}, ['run', '--alpha', '0.7'], 2, 'ConfigError', '--alpha must be a finite number in (0, 0.5); got 0.7'),
    'max-sign-share-out-of-range': ({}, ['run', '--max-sign-share', '1.5'], 2, 'ConfigError', '--max-sign-share must be a finite number'),
    'start-not-a-date': ({}, ['run', '--start', '2010-13-45'], 2, 'ConfigError', "--start must be a date like '2010-01-31'"),
    'start-after-end': ({}, ['run', '--start', '2012-01-01', '--end', '2011-01-01'], 2, 'ConfigError', 'is after end'),
    'csv-options-without-csv': ({}, ['run', '--decimal', ','], 2, 'ConfigError', '--path, --sep and --decimal need --source csv'),
    'csv-without-path': ({}, ['run', '--source', 'csv'], 2, 'ConfigError', '--source csv needs --path FILE'),
    'unknown-model': ({}, ['run', '--models', 'prophet'], 2, None, "invalid choice: 'prophet'"),
    'log-level-unknown': ({}, ['--log-level', 'LOUD', 'data'], 2, None, "argument --log-level: invalid choice: 'LOUD'"),
    'epochs-beyond-any-run': ({}, ['train', 'lstm', '--epochs', '99999999999999999999'], 2, 'ConfigError',
                              '--epochs must be an integer in [1, 10000]; got 99999999999999999999'),
    'option-abbreviated': ({}, ['train', 'lstm', '--models', 'xgb'], 2, None, 'unrecognized arguments: --models xgb'),
    'k-above-half-the-universe': ({}, ['universe', '--symbols', 'AAPL,MSFT,IBM,GOOG', '--k', '3'], 2, 'ConfigError',
                                  '--k 3 needs at least 6 symbols (3 long, 3 short); the universe has 4; use --k 2'),
    'n-jobs-zero': ({}, ['universe', '--n-jobs', '0'], 2, 'ConfigError', '--n-jobs must be -1 (all workers) or an'),
    'no-command': ({}, [], 2, None, 'usage: stocknb'),
    # the models folder: refused before any training
    'models-dir-is-a-file': ({'file': 'x'}, ['run', '--models-dir', '{data}/file'], 2, 'ArtifactError',
                             'is a file, not a folder; choose another with --models-dir DIR or $STOCKNB_MODELS_DIR'),
    'models-dir-below-a-file': ({'file': 'x'}, ['run', '--models-dir', '{data}/file/models'], 2, 'ArtifactError',
                                'cannot write to the models folder'),
    # predicting
    'predict-never-trained': ({}, ['predict', '--symbol', 'IBM', '--models-dir', '{models}'], 2, 'ArtifactError',
                              'no saved model at {models}/IBM; train one first: stocknb run --symbol IBM '
                              '--models-dir {models}; if no model passes the gate (exit 3), stocknb run --symbol IBM '
                              '--models-dir {models} --skip-gate'),
}

@pytest.mark.parametrize('case', list(CLI))
def test_cli_case(case, world, capsys):
    files, args, code, etype, text = CLI[case]
    for name, content in files.items():
        f = world/'data'/name
        f.write_bytes(content) if isinstance(content, bytes) else f.write_text(content)
    before, models_before = snapshot(world, skip=world/'models'), models_snapshot(world/'models')
    got, out, err = run_cli(world, args, capsys)
    text = text.format(models=world/'models', data=world/'data')
    assert got == code, (got, out[-1500:], err[-1500:])
    assert 'Traceback' not in err and 'Traceback' not in out
    if code == 0: assert text in out, out
    else:
        assert text in err, err
        if etype: assert err.strip().splitlines()[-1].startswith(f'error: {etype}: '), err
    check_world(world, before, models_before, refused=code != 0)

def test_the_case_count():
    "The audit asked for at least 40 cases; with the Python and artifact cases below there are many more."
    assert len(CLI) + len(PY) + len(ARTIFACT) >= 40

# ---------------------------------------------------------------- Python-API cases
from stocknb.pipeline import PipelineConfig, ProductionPipeline, ProductionModel, gate_decision, MODELS
from stocknb.data import load_ohlcv, load_csv
from stocknb.stacking import StackingEnsembleTrainer, StackingPredictor

def _save_as(symbol):
    def f(world, pm): pm.symbol = symbol; pm.save(world/'models')
    return f

PY = {  # id: (function of the world, error type, message)
    'config-n-splits-as-string': (lambda w: PipelineConfig(n_splits='5'), ConfigError, "PipelineConfig.n_splits must be an integer ≥ 2; got '5' (str)"),
    'config-cost-as-string': (lambda w: PipelineConfig(cost_bps='5'), ConfigError, "PipelineConfig.cost_bps must be a finite number in [0, inf); got '5'"),
    'config-alpha-as-string': (lambda w: PipelineConfig(alpha='0.01'), ConfigError, "PipelineConfig.alpha must be a finite number"),
    'config-seed-float': (lambda w: PipelineConfig(seed=1.5), ConfigError, "PipelineConfig.seed must be an integer in [0, 4294967295]; got 1.5"),
    'config-symbol-path': (lambda w: PipelineConfig(symbol='../victim'), ConfigError, "is not a valid ticker"),
    'config-unknown-gbm-argument': (lambda w: PipelineConfig(model_params={'xgb': {'max_dept': 3}}), ConfigError,
                                    "PipelineConfig.model_params['xgb']: unknown GBMModel argument(s) ['max_dept']"),
    'config-unknown-xgb-param': (lambda w: PipelineConfig(model_params={'xgb': {'params': {'max_dept': 3}}}), ConfigError,
                                 "unknown XGBoost parameter(s) ['max_dept'] in params"),
    'config-unknown-lgbm-param': (lambda w: PipelineConfig(model_params={'lgbm': {'params': {'num_leafs': 3}}}), ConfigError,
                                  "unknown LightGBM parameter(s) ['num_leafs'] in params"),
    'config-bad-xgb-value': (lambda w: PipelineConfig(model_params={'xgb': {'params': {'max_depth': 'deep'}}}), ConfigError,
                             "XGBoost cannot use params"),
    'config-model-params-not-dict': (lambda w: PipelineConfig(model_params={'xgb': 3}), ConfigError, "must be a dict of dicts"),
    'config-model-params-params-not-dict': (lambda w: PipelineConfig(model_params={'xgb': {'params': 'abc'}}), ConfigError,
                                            "PipelineConfig.model_params['xgb']['params'] must be a dict of booster settings, "
                                            "e.g. {'max_depth': 4}; got 'abc' (str)"),
    'config-model-params-sets-seed': (lambda w: PipelineConfig(model_params={'lgbm': {'seed': 3}}), ConfigError,
                                      "PipelineConfig.model_params['lgbm'] sets ['seed']: the config sets them for every model"),
    'config-unknown-setting': (lambda w: PipelineConfig.from_dict({'colour': 'red'}), ConfigError, "unknown PipelineConfig setting(s) ['colour']"),
    'load-start-integer': (lambda w: load_ohlcv('AAPL', start=20100101), ConfigError, "(did you mean '2010-01-01'?)"),
    'pipeline-constant-price-in-memory': (lambda w: ProductionPipeline(symbol='FLAT').run_validation(
        data=bars().assign(Open=100.0, High=100.0, Low=100.0, Close=100.0)), DataError, 'the close never changes'),
    'pipeline-spike-in-memory': (lambda w: ProductionPipeline(symbol='SPK').run_validation(data=bars(edits={(500, 'Close'): 1e6, (500, 'High'): 1e6})),
                                 DataError, "one-day spike in column 'Close'"),
    'config-stack-unknown-setting': (lambda w: PipelineConfig(model_params={'stack': {'depth': 2}}), ConfigError,
                                     "PipelineConfig.model_params['stack']: unknown meta-learner setting(s) ['depth']"),
    'config-stack-bad-booster-param': (lambda w: PipelineConfig(model_params={'stack': {'params': {'max_dept': 1}}}),
                                       ConfigError, "unknown XGBoost parameter(s) ['max_dept']"),
    'config-stack-sets-objective': (lambda w: PipelineConfig(model_params={'stack': {'params': {'objective': 'reg:absoluteerror'}}}),
                                    ConfigError, "meta-learner params ['objective'] are set by the meta-learner itself"),
    'config-stack-gate-alpha': (lambda w: PipelineConfig(model_params={'stack': {'gate_alpha': 1.5}}), ConfigError,
                                "gate_alpha must be a finite number in (0, 1]; got 1.5"),
    'config-stacking-not-bool': (lambda w: PipelineConfig(stacking=1), ConfigError, "PipelineConfig.stacking must be True or False"),
    'config-multiple-testing-unknown': (lambda w: PipelineConfig(multiple_testing='bonferroni'), ConfigError,
                                        "PipelineConfig.multiple_testing must be one of 'holm', 'bh', 'none'; got 'bonferroni'"),
    'stack-base-name-is-a-path': (lambda w: StackingEnsembleTrainer({'../x': MODELS['xgb'].factory(PipelineConfig())}),
                                  ConfigError, "base model name(s) ['../x'] are not plain names or are reserved"),
    'stack-base-name-reserved': (lambda w: StackingEnsembleTrainer({'adx': MODELS['xgb'].factory(PipelineConfig())}),
                                 ConfigError, "base model name(s) ['adx'] are not plain names or are reserved"),
    'stack-base-not-callable': (lambda w: StackingEnsembleTrainer({'xgb': 3}), ConfigError,
                                "base model(s) ['xgb'] are not factories (zero-argument callables)"),
    'stack-no-bases': (lambda w: StackingEnsembleTrainer({}), ConfigError, "base_models must be a dict of name -> model factory"),
    'stack-kelly-fraction': (lambda w: StackingEnsembleTrainer({'xgb': MODELS['xgb'].factory(PipelineConfig())}, kelly_fraction=2),
                             ConfigError, "kelly_fraction must be a finite number in (0, 1]; got 2"),
    'stack-confidence-unknown': (lambda w: StackingEnsembleTrainer({'xgb': MODELS['xgb'].factory(PipelineConfig())},
                                                                    confidence={'halflife': 250}), ConfigError,
                                 "confidence settings {'halflife': 250}"),
    'stack-confidence-half-life': (lambda w: StackingEnsembleTrainer({'xgb': MODELS['xgb'].factory(PipelineConfig())},
                                                                      confidence={'half_life': -1}), ConfigError,
                                   "half_life must be a finite number in (0, inf); got -1"),
    'stack-load-without-stack': (lambda w: StackingPredictor.load('NONE', w/'models'), ArtifactError, "no saved model at"),
    'write-artifact-outside-root': (lambda w: write_artifact(w/'models'/'..'/'victim', lambda t: (t/'a').write_text('x'), root=w/'models'),
                                    ArtifactError, 'outside the root'),
    'write-artifact-root-itself': (lambda w: write_artifact(w/'models'/'.', lambda t: (t/'a').write_text('x'), root=w/'models'),
                                   ArtifactError, 'it is the root itself'),
}

@pytest.mark.parametrize('case', list(PY))
def test_python_case(case, world):
    f, etype, msg = PY[case]
    before, models_before = snapshot(world, skip=world/'models'), models_snapshot(world/'models')
    with pytest.raises(etype) as e: f(world)
    assert msg in str(e.value), str(e.value)
    check_world(world, before, models_before, refused=True)

def test_unreadable_csv(world):
    "A file the process may not read is a DataError, not a PermissionError traceback."
    f = world/'data'/'locked.csv'
    if os.geteuid() != 0:
        f.write_text(HEAD + '2020-01-02,1,2,0.5,1.5,10\n'); f.chmod(0)
    else:                                        # root reads every ordinary file; procfs still refuses some
        f = Path('/proc/sys/vm/compact_memory')
        try: f.read_bytes(); pytest.skip('no file here that root may not read')
        except PermissionError: pass
        except OSError: pytest.skip('no file here that root may not read')
    with pytest.raises(DataError, match='cannot read .*: Permission denied'): load_csv(f)

def test_unwritable_models_dir(world, capsys):
    "A models folder that cannot be written is refused before any work, with exit code 2."
    if os.geteuid() != 0:
        ro = world/'data'/'ro'; ro.mkdir(); ro.chmod(0o555); target = ro/'models'
    else:
        target = Path('/sys/stocknb-test-models')           # sysfs: even root cannot create folders here
        try: target.mkdir(); target.rmdir(); pytest.skip('a folder could be created in /sys here')
        except PermissionError: pass
        except OSError: pytest.skip('no unwritable folder available')
    code, _, err = run_cli(world, ['run', '--models-dir', str(target)], capsys)
    assert code == 2 and 'error: ArtifactError: cannot write to the models folder' in err, err

# ---------------------------------------------------------------- artifact cases, on one small trained model
FAST = dict(models=('xgb',), model_params={'xgb': {'n_estimators': 300}})
PLANTED = planted_signal_ohlcv(2500, phi=0.25, seed=21)

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A root holding a production model for PL (trained once), and the CSV it was trained on."
    base = tmp_path_factory.mktemp('trained')
    (base/'planted.csv').write_text(csv(PLANTED))
    pipe = ProductionPipeline(PipelineConfig(symbol='PL', source='csv', path=str(base/'planted.csv'), models_dir=str(base/'models'), **FAST))
    pipe.run_validation()
    pipe.train_production()
    return base

@pytest.fixture
def tworld(world, trained):
    shutil.copytree(trained/'models', world/'models', dirs_exist_ok=True)
    shutil.copy(trained/'planted.csv', world/'data'/'planted.csv')
    return world

def _edit_json(rel, fn, rehash=False):
    def f(w):
        p = w/'models'/rel; m = read_json(p); fn(m)
        if rehash: m['manifest_sha256'] = json_sha256({k: v for k, v in m.items() if k != 'manifest_sha256'})
        write_json(p, m)
    return f

PREDICT = ['predict', '--symbol', 'PL', '--source', 'csv', '--path', '{data}/planted.csv']
ARTIFACT = {  # id: (how the saved model is damaged, CLI args, exit code, text in stderr)
    'artifact-tampered-model-file': (lambda w: (w/'models'/'PL'/'xgb'/'model.json').write_bytes(
        (w/'models'/'PL'/'xgb'/'model.json').read_bytes().replace(b'"', b"'", 1)), PREDICT, 2, 'sha256 mismatch for xgb/model.json'),
    'artifact-edited-hit-rate': (_edit_json('PL/manifest.json', lambda m: m['oof']['xgb'].update(accuracy=0.99)), PREDICT, 2,
                                 'manifest.json was changed after saving'),
    'artifact-edited-sub-manifest': (_edit_json('PL/xgb/manifest.json', lambda m: m.update(model='lgbm')), PREDICT, 2,
                                     'sha256 mismatch for xgb/manifest.json'),
    'artifact-planted-pickle': (lambda w: (w/'models'/'PL'/'xgb'/'scaler.bin').write_bytes(b'\x80\x04K\x01.'), PREDICT, 2,
                                'refusing to load a pickled file: xgb/scaler.bin'),
    'artifact-unlisted-file': (lambda w: (w/'models'/'PL'/'notes.txt').write_text('hi'), PREDICT, 2, "not listed in the manifest: ['notes.txt']"),
    'artifact-missing-file': (lambda w: (w/'models'/'PL'/'xgb'/'gbm.json').unlink(), PREDICT, 2, "listed in the manifest are missing"),
    'artifact-old-format': (_edit_json('PL/manifest.json', lambda m: m.update(format_version=1), rehash=True), PREDICT, 2,
                            'artifact format 1 is not supported'),
    'artifact-forged-without-data': (_edit_json('PL/manifest.json', lambda m: m.pop('data'), rehash=True), PREDICT, 2,
                                     "the manifest lacks ['data']"),
    'artifact-forged-bad-config': (_edit_json('PL/manifest.json', lambda m: m['config'].update(seed=-1), rehash=True), PREDICT, 2,
                                   'the saved config is not valid for this stocknb'),
    'artifact-forged-bogus-date': (_edit_json('PL/manifest.json', lambda m: m['data'].update(training_last_date='2013-02-30'), rehash=True),
                                   PREDICT, 2, "data.training_last_date in the manifest is not a date like 2013-02-28: '2013-02-30'"),
    'artifact-symlink-out-of-root': (lambda w: (shutil.rmtree(w/'models'/'PL'), (w/'models'/'PL').symlink_to(w/'victim')), PREDICT, 2,
                                     'outside the root'),
    'predict-in-sample-day': (lambda w: None, PREDICT + ['--end', f"{PLANTED.index[-50]:%Y-%m-%d}"], 2,
                              "inside the model's training data (labels through"),
}

@pytest.mark.parametrize('case', list(ARTIFACT))
def test_artifact_case(case, tworld, capsys):
    damage, args, code, text = ARTIFACT[case]
    damage(tworld)
    before, models_before = snapshot(tworld, skip=tworld/'models'), models_snapshot(tworld/'models')
    got, out, err = run_cli(tworld, args, capsys)
    assert got == code and text in err, (got, err)
    assert err.strip().splitlines()[-1].startswith(('error: ArtifactError: ', 'error: DataError: ')) and 'Traceback' not in err
    check_world(tworld, before, models_before, refused=True)

def test_predict_works_on_the_undamaged_copy(tworld, capsys):
    "The control for the cases above: the same command on the intact model succeeds, with no warning."
    code, out, err = run_cli(tworld, PREDICT, capsys)
    assert code == 0, err
    assert out.startswith('PL for ') and 'warning' not in out

def test_symbol_that_is_a_symlink_out_of_root_is_not_replaced(tworld):
    "Saving over a symbol folder that links out of the root is refused; the link's target is untouched."
    pm = ProductionModel.load('PL', tworld/'models')
    (tworld/'models'/'EVIL').symlink_to(tworld/'victim')
    before = snapshot(tworld/'victim')
    pm.symbol = 'EVIL'
    with pytest.raises(ArtifactError, match='outside the root'): pm.save(tworld/'models')
    assert snapshot(tworld/'victim') == before and (tworld/'models'/'EVIL').is_symlink()

def test_symbol_dot_cannot_replace_the_root(tworld):
    "The audit's worst case: a symbol of '.' used to replace the whole models root. Now refused before any I/O."
    pm = ProductionModel.load('PL', tworld/'models')
    before = snapshot(tworld/'models')
    for bad in ('.', '..', '../victim', '/tmp/x'):
        pm.symbol = bad
        with pytest.raises(ConfigError, match='is not a valid ticker'): pm.save(tworld/'models')
    assert snapshot(tworld/'models') == before

def test_stale_model_is_reported(tworld, capsys):
    "After a later run of the same symbol fails the gate, predict still serves the saved model but says so."
    (tworld/'data'/'noise.csv').write_text(csv(random_walk_ohlcv(2500, seed=5)))
    models_before = models_snapshot(tworld/'models')
    cfg = PipelineConfig(symbol='PL', source='csv', path=str(tworld/'data'/'noise.csv'), models_dir=str(tworld/'models'), **FAST)
    pipe = ProductionPipeline(cfg)
    pipe.run_validation()
    with pytest.raises(GateError, match=r'PL: no model passed the validation gate \(xgb failed'): pipe.train_production()
    assert models_snapshot(tworld/'models') == models_before                       # the saved model is untouched ...
    code, out, err = run_cli(tworld, PREDICT, capsys)
    assert code == 0, err
    assert 'warning: the newest validation of PL' in out and 'failed the gate for every model, but this model comes from' in out
    r = ProductionPipeline(PipelineConfig(symbol='PL', models_dir=str(tworld/'models'))).predict(PLANTED)
    assert r.notes and 'failed the gate for every model' in r.notes[0]             # ... and the Python API says it too

@pytest.mark.parametrize('setting', ['max_sign_share', 'min_std_ratio'])
def test_gate_applies_each_configured_threshold(trained, setting):
    "The two thresholds the gate used to ignore: moving either one past the measured value flips the decision."
    pipe = ProductionPipeline(PipelineConfig(symbol='PL', source='csv', path=str(trained/'planted.csv'), models_dir=str(trained/'models'), **FAST))
    rep = pipe.run_validation(record=False)
    g = rep.gates['xgb']
    assert g.passed, g.reason
    part = {'max_sign_share': 'sign', 'min_std_ratio': 'collapse'}[setting]
    v = g.parts[part]['value']
    flipped = PipelineConfig(**{**pipe.config.to_dict(), setting: max(0.5, v - 0.005) if part == 'sign' else min(0.99, v * 1.05)})
    g2 = gate_decision('xgb', rep.results['xgb'], flipped)
    assert not g2.passed and g2.failed == [part] and g2.parts[part]['threshold'] == getattr(flipped, setting)

def test_skip_gate_flags_are_one_setting():
    from stocknb.cli import build_parser, _config
    a = _config(build_parser().parse_args(['run', '--skip-wfe-check']))
    b = _config(build_parser().parse_args(['run', '--skip-gate']))
    assert a.skip_gate and b.skip_gate and a.to_dict() == b.to_dict()
    assert 'ALL FOUR checks' in ' '.join(build_parser()._subparsers._group_actions[0].choices['run'].format_help().split())

def test_lock_held_by_another_process_times_out(tworld):
    "A writer or reader that cannot get the artifact's lock gives up with a clear error instead of interleaving."
    code = "import sys, time; from stocknb.artifacts import artifact_lock\nwith artifact_lock(sys.argv[1], 'PL'):\n print('held', flush=True); time.sleep(3)"
    child = subprocess.Popen([sys.executable, '-c', code, str(tworld/'models')], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == 'held'
        import stocknb.artifacts as art
        with pytest.raises(ArtifactError, match='another process has held the lock of PL for over 0.5 s'):
            with art.artifact_lock(tworld/'models', 'PL', timeout=0.5): pass
    finally: child.wait()

def test_console_script_refuses_a_path_symbol(world):
    "The same refusal through the real console script, in a fresh process."
    exe = shutil.which('stocknb') or pytest.fail('the stocknb console script is not installed')
    before = snapshot(world, skip=world/'models'); models_before = models_snapshot(world/'models')
    r = subprocess.run([exe, 'run', '--symbol', '.', '--models-dir', str(world/'models')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ConfigError: --symbol '.' is not a valid ticker") and 'Traceback' not in r.stderr
    check_world(world, before, models_before, refused=True)

def test_stacking_predictor_refuses_a_folder_without_a_stack(tworld):
    "A model set trained without stacking is loadable by the pipeline but not as a stacked ensemble, and says so."
    from stocknb.core import ArtifactError
    with pytest.raises(ArtifactError, match=r"holds no stacked ensemble \(models \['xgb'\]\); train one with stacking=True"):
        StackingPredictor.load('PL', tworld/'models')

# ---------------------------------------------------------------- numbers and dates through the Python API
SEMI_GROUPED = 'Date;Open;High;Low;Close;Volume\n2020-01-02;3.060;3.100;3.050;3.070;12000\n2020-01-03;3.070;3.120;3.060;3.110;15000\n'

def test_semicolon_file_with_dot_thousands_is_refused_then_read_right(world):
    "`3.060` in a ';' file is 3060 in Europe and 3.06 elsewhere: refused (never ÷ 1000 in silence); decimal=',' reads it."
    f = world/'data'/'eu.csv'; f.write_text(SEMI_GROUPED)
    with pytest.raises(DataError, match=r"eu.csv: cannot tell whether '.' in '3.060' \(column 'Open'\) is a decimal mark or a "
                                        r"thousands separator \(files separated by semicolons"):
        load_ohlcv('EU', source='csv', path=f)
    df = load_ohlcv('EU', source='csv', path=f, decimal=',')
    assert df['Close'].tolist() == [3070.0, 3110.0] and df['Volume'].tolist() == [12000.0, 15000.0]
    assert load_ohlcv('EU', source='csv', path=f, decimal='.')['Close'].tolist() == [3.07, 3.11]   # the user's call, said out loud

# ---------------------------------------------------------------- the validation history: checked, reported, repaired once
HISTORY = ('.stocknb', 'history', 'PL.json')
BROKEN_HISTORY = {  # id: (what is written where the history file should be, what the warning says)
    'history-list-of-numbers': ('[1, 2, 3]', 'record 0 is 1, not an object'),
    'history-passed-null': (None, "record 0 has no list of model names 'passed' (got None)"),
    'history-a-folder': ('<dir>', 'it is a folder'),
    'history-not-json': ('[{"id": ', 'it is not valid JSON'),
}

def _break_history(w, how):
    f = w/'models'/Path(*HISTORY)
    if how == '<dir>': f.unlink(); f.mkdir(); (f/'x').write_text('1')
    elif how is None: h = read_json(f); h[-1]['passed'] = None; write_json(f, h)
    else: f.write_text(how)
    return f

@pytest.mark.parametrize('case', list(BROKEN_HISTORY))
def test_broken_history_is_a_warning_then_set_aside_once(case, tworld, capsys):
    "predict warns (exit 0) and changes nothing, every time; the next validation moves the file aside once and starts anew."
    how, msg = BROKEN_HISTORY[case]
    f = _break_history(tworld, how)
    before = snapshot(tworld)
    for _ in range(2):
        code, out, err = run_cli(tworld, PREDICT, capsys)
        assert code == 0 and 'Traceback' not in err, err
        assert f"warning: the validation history {f} is broken: {msg}" in out, out
        assert "the saved model cannot be compared with later validations (the next validation of PL sets it aside and " \
               "starts a new one)" in out, out
        assert snapshot(tworld) == before                                     # loading repairs nothing, writes nothing
    if case != 'history-list-of-numbers': return                             # one validation run is enough to show the repair
    code, out, err = run_cli(tworld, ['run', '--validate-only', '--symbol', 'PL', '--source', 'csv', '--path', '{data}/planted.csv',
                                      '--models', 'xgb'], capsys)
    assert code == 0, err
    assert err.count(f"the validation history {f} was broken ({msg}); moved it aside to PL.json.broken-") == 1, err
    aside = [p.name for p in f.parent.iterdir() if p.name.startswith('PL.json.broken-')]
    assert len(aside) == 1 and (f.parent/aside[0]).read_text() == how and len(read_json(f)) == 1
    code, out, err = run_cli(tworld, PREDICT, capsys)
    assert code == 0 and 'validation history' not in out + err, out + err   # repaired: no warning any more

def test_history_that_missed_the_models_validation_is_not_called_newest(tworld, capsys):
    "A history whose last append failed holds only older records: predict says it cannot tell, not 'the newest ... retrain'."
    f = tworld/'models'/Path(*HISTORY)
    h = read_json(f)
    assert len(h) == 1 and h[0]['id'] == read_json(tworld/'models'/'PL'/'manifest.json')['validation_id']
    h[0].update(id='an-earlier-one', validated_at='2001-01-01T00:00:00+00:00', passed=[])   # what a failed append leaves
    write_json(f, h)
    code, out, err = run_cli(tworld, PREDICT, capsys)
    assert code == 0, err
    assert 'warning: the validation history of PL does not record the validation this model comes from' in out, out
    assert 'so it cannot tell whether a later validation disagrees with this model' in out
    assert 'newest validation' not in out and 'retrain' not in out

def test_unrecorded_validation_still_counts_in_the_same_process(tworld):
    "When the history cannot be written, the pipeline keeps the record: its own predict still sees that the gate now fails."
    hist = tworld/'models'/'.stocknb'/'history'
    shutil.rmtree(hist); hist.write_text('a file where the history folder should be')    # any user: appending fails
    (tworld/'data'/'noise.csv').write_text(csv(random_walk_ohlcv(2500, seed=5)))
    cfg = PipelineConfig(symbol='PL', source='csv', path=str(tworld/'data'/'noise.csv'), models_dir=str(tworld/'models'), **FAST)
    pipe = ProductionPipeline(cfg)
    assert pipe.run_validation().passed == []                                 # recorded nowhere: a warning in the log
    r = pipe.predict(PLANTED)
    assert r.notes and 'the newest validation of PL' in r.notes[0] and 'failed the gate for every model' in r.notes[0]
    with pytest.raises(ArtifactError, match=r'history is a file where the workspace of the models folder needs a folder'):
        pipe.train_production(skip_gate=True)                                 # and a save is refused before it trains

# ---------------------------------------------------------------- links out of the root: refused before any work
def test_run_refuses_links_out_of_the_root_before_work(tworld, capsys):
    "A symbol folder or a workspace that links out of the root is refused by `run` in its first second, not after training."
    import time
    (tworld/'models'/'EVIL').symlink_to(tworld/'victim')
    before = snapshot(tworld)
    args = ['run', '--symbol', 'EVIL', '--source', 'csv', '--path', '{data}/planted.csv', '--models', 'xgb']
    t0 = time.perf_counter(); code, out, err = run_cli(tworld, args, capsys); dt = time.perf_counter() - t0
    assert code == 2 and f"error: ArtifactError: refusing to replace {tworld/'models'/'EVIL'}: it is outside the root" in err, err
    assert out == '' and dt < 5 and snapshot(tworld) == before                # no report: nothing was validated
    ws = tworld/'models'/'.stocknb'
    shutil.rmtree(ws); ws.symlink_to(tworld/'victim')
    before = snapshot(tworld)
    code, out, err = run_cli(tworld, ['run', '--symbol', 'PL'] + args[3:], capsys)
    assert code == 2 and f"refusing to use {ws/'tmp'}: it is outside the root" in err and out == '', err
    assert snapshot(tworld) == before

# ---------------------------------------------------------------- read-only and half-writable roots, as a user without write access
import functools, time

@functools.lru_cache(maxsize=1)
def _other_user():
    "(argv prefix, python, uid, gid) to run a process that does not own the test's files; None with the reason when impossible."
    if os.geteuid() != 0: return ([], sys.executable, os.getuid(), os.getgid()), ''      # not root: chmod is enough
    import pwd
    try: pw = pwd.getpwnam('nobody')
    except KeyError: return None, 'running as root and there is no user "nobody"'
    tool = shutil.which('setpriv')
    if tool is None: return None, 'running as root and setpriv (util-linux) is not installed'
    pre = [tool, f'--reuid={pw.pw_uid}', f'--regid={pw.pw_gid}', '--clear-groups']
    want = '%d.%d' % sys.version_info[:2]                  # the same Python, maybe another binary (root's may be unreachable)
    for py in dict.fromkeys(p for p in (sys.executable, getattr(sys, '_base_executable', None), shutil.which(f'python{want}')) if p):
        r = subprocess.run(pre + [py, '-c', 'import sys, stocknb.cli, xgboost; print("%d.%d" % sys.version_info[:2])'],
                           capture_output=True, text=True, env=_child_env(Path('/tmp')), cwd='/tmp')
        if r.returncode == 0 and r.stdout.strip() == want: return (pre, py, pw.pw_uid, pw.pw_gid), ''
    return None, f'no Python {want} that user "nobody" can run and import stocknb with (root\'s interpreter is not reachable)'

def _child_env(home:Path) -> dict:
    return {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'HOME': str(home), 'MPLCONFIGDIR': str(home),
            'PYTHONPATH': os.pathsep.join(p for p in sys.path if p), 'OMP_WAIT_POLICY': 'PASSIVE', 'TF_CPP_MIN_LOG_LEVEL': '3',
            'MPLBACKEND': 'Agg', 'LC_ALL': 'C.UTF-8'}

def _give(p:Path, uid, gid):
    "Make `p` (and everything in it) belong to the other user: writable by it."
    for q in [p, *p.rglob('*')]: os.lchown(q, uid, gid)

def _take(p:Path):
    "Make folder `p` unwritable by the other user (root's 755, or 555 when we are that user)."
    if os.geteuid() == 0: os.lchown(p, 0, 0); p.chmod(0o755)
    else: p.chmod(0o555)

@pytest.fixture
def ro_world(trained):
    "A world the other user can reach (not under pytest's private tmp): models (a trained PL), data, victim; and its home."
    who, why = _other_user()
    if who is None: pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix='stocknb-ro-')); base.chmod(0o755)
    w = base/'world'
    for d in ('data', 'victim'): (w/d).mkdir(parents=True)
    (w/'victim'/'keep.txt').write_text('not yours')
    shutil.copytree(trained/'models', w/'models'); shutil.copy(trained/'planted.csv', w/'data'/'planted.csv')
    (base/'home').mkdir(); _give(base/'home', *who[2:])
    yield w, who
    for q in [base, *base.rglob('*')]:
        if q.is_dir() and not q.is_symlink(): q.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)

def _run_as_other(w, who, args):
    "`stocknb ARGS` as the other user, in a fresh process; (exit code, stdout, stderr, seconds)."
    pre, py = who[:2]
    t0 = time.perf_counter()
    r = subprocess.run(pre + [py, '-m', 'stocknb.cli', *args], capture_output=True, text=True, cwd=w,
                       env=_child_env(w.parent/'home') | {'STOCKNB_MODELS_DIR': str(w/'models')}, timeout=300)
    return r.returncode, r.stdout, r.stderr, time.perf_counter() - t0

import tempfile
RO_PREDICT = ['predict', '--symbol', 'PL', '--source', 'csv', '--path', 'data/planted.csv']

def test_predict_from_a_read_only_root_with_a_lock_file(ro_world):
    "Loading needs no write: a root the user may only read (lock file and history included) predicts, and is left as it was."
    w, who = ro_world
    if os.geteuid() != 0:
        for q in [w/'models', *(w/'models').rglob('*')]:
            if q.is_dir(): q.chmod(0o555)
    assert (w/'models'/'.stocknb'/'locks'/'PL.lock').exists()
    before = snapshot(w)
    code, out, err, dt = _run_as_other(w, who, RO_PREDICT)
    assert code == 0 and out.startswith('PL for ') and 'Traceback' not in err, (code, err[-2000:])
    assert 'warning' not in out and snapshot(w) == before
    f = w/'models'/Path(*HISTORY)
    if os.geteuid() != 0: f.parent.chmod(0o755)
    f.write_text('[1, 2, 3]')                                               # broken, and the user may not repair it
    if os.geteuid() != 0: f.parent.chmod(0o555)
    before = snapshot(w)
    code, out, err, dt = _run_as_other(w, who, RO_PREDICT)
    assert code == 0 and 'warning: the validation history' in out and 'is broken: record 0 is 1, not an object' in out, out + err
    assert snapshot(w) == before

HALF = {  # id: (the part of the workspace the user may not write, text of the refusal)
    'workspace-tmp-read-only': ('.stocknb/tmp', "cannot write to {models}/.stocknb/tmp, the workspace of the models folder: Permission denied"),
    'workspace-locks-read-only': ('.stocknb/locks', "cannot write to {models}/.stocknb/locks, the workspace of the models folder: Permission denied"),
    'workspace-history-read-only': ('.stocknb/history', "cannot write to {models}/.stocknb/history, the workspace of the models folder: Permission denied"),
    'workspace-lock-file-read-only': ('.stocknb/locks/PL.lock', "cannot take the lock of PL in the models folder: this user may not write {models}/.stocknb/locks/PL.lock"),
    'symbol-folder-read-only': ('PL', "cannot replace {models}/PL: this user may not write that folder (a save moves it aside)"),
}

@pytest.mark.parametrize('case', list(HALF))
def test_half_writable_root_is_refused_before_training(case, ro_world):
    "A root the user may write but whose workspace (or symbol folder) it may not: `run` exits 2 at once, nothing trained or changed."
    w, who = ro_world
    part, text = HALF[case]
    if os.geteuid() == 0: _give(w/'models', *who[2:])
    p = w/'models'/part
    if p.is_dir(): _take(p)
    elif os.geteuid() == 0: os.lchown(p, 0, 0); p.chmod(0o644)
    else: p.chmod(0o444)
    before = snapshot(w)
    code, out, err, dt = _run_as_other(w, who, ['run', '--symbol', 'PL', '--source', 'csv', '--path', 'data/planted.csv', '--models', 'xgb'])
    assert code == 2 and err.strip().splitlines()[-1] == 'error: ArtifactError: ' + text.format(models=w/'models') + \
        '; choose another with --models-dir DIR or $STOCKNB_MODELS_DIR', (code, err[-2000:])
    assert out == '' and snapshot(w) == before                              # no report printed: nothing was validated
