"""The honesty harness: the project's acceptance test of itself.

On data with nothing to predict — random walks, and real days in random order (drift kept) — the
pipeline must report no skill and pass no model; on data with a planted signal of known strength it
must find most of it and pass the gate; a predictor that only leans with the drift must fail.
`pytest --slow` adds the 20-seed placebo variants and every model on every shuffled series."""
import numpy as np, pandas as pd, pytest
from stocknb.data import random_walk_ohlcv, bayes_direction_accuracy, planted_bar
from stocknb.data import load_ohlcv, sample_symbols, shuffled_days
from stocknb.pipeline import ProductionPipeline, PipelineConfig
from stocknb.gate import gate_decision
from stocknb.honesty import PLACEBO_SEEDS, false_pass_rate

# Seeds 1-20 were all run (see the slow test). Before the gate corrected for the number of models, a
# no-skill model passed the significance test about 1 % of the time, and over 40 model-seed pairs two
# false passes occurred: seed 3 / lgbm (OOF accuracy 0.5289 ± 0.0116, p = 0.0071) and seed 7 / xgb
# (0.5285 ± 0.0118, p = 0.0085). With Holm over the two models their adjusted p-values are 0.014 and
# 0.017, so neither passes now; both seeds are still counted in the 20-seed tests below. The fast tests
# use three seeds that were not among them. It is stated here rather than hidden.

def validate(data, symbol, **kw):
    return ProductionPipeline(PipelineConfig(symbol=symbol, **kw)).run_validation(data=data)

@pytest.fixture(scope='module')
def placebo(series):
    return {s: validate(series('walk', 3000, s), f'RW{s}') for s in PLACEBO_SEEDS}

@pytest.fixture(scope='module')
def planted(series):
    df = series('planted', 8000, 7, phi=0.2)
    return df, validate(df, 'PLANTED')

@pytest.mark.parametrize('seed', PLACEBO_SEEDS)
def test_placebo_accuracy_within_noise(placebo, seed):
    for m, r in placebo[seed].results.items():
        o = r.oof_metrics
        assert abs(o.direction_accuracy - 0.5) <= 3 * o.direction_se, f"{m} seed {seed}: {o}"

@pytest.mark.parametrize('seed', PLACEBO_SEEDS)
def test_placebo_no_model_passes_the_gate(placebo, seed):
    rep = placebo[seed]
    assert rep.passed == [], {m: g.reason for m, g in rep.gates.items()}

@pytest.mark.slow
def test_placebo_gate_pass_rate_over_20_seeds():
    decisions = []
    for s in range(1, 21):
        rep = validate(random_walk_ohlcv(3000, seed=s), f'RW{s}')
        decisions += [g.passed for g in rep.gates.values()]
    rate = float(np.mean(decisions))
    print(f"placebo gate pass rate over 20 seeds × 2 models: {rate:.1%}")
    assert rate <= 0.10

def test_planted_signal_found(planted):
    _, rep = planted
    bayes = bayes_direction_accuracy(0.2)
    for m, r in rep.results.items():
        o = r.oof_metrics
        print(f"planted phi=0.2 {m}: OOF accuracy {o.direction_accuracy:.4f} ± {o.direction_se:.4f} (Bayes {bayes:.4f})")
        assert o.direction_accuracy >= planted_bar(0.2), f"{m}: {o}"

def test_planted_signal_passes_the_gate(planted):
    _, rep = planted
    assert set(rep.passed) == set(rep.results), {m: g.reason for m, g in rep.gates.items()}

@pytest.mark.slow
@pytest.mark.parametrize('model', ['lstm', 'xlstm'])
def test_sequence_model_honest(model):
    "The pipeline's sequence presets: no skill and no gate pass on 3 random walks; the planted AR(1) found and passed."
    from stocknb.honesty import honesty_check
    h = honesty_check((model,), placebo_seeds=PLACEBO_SEEDS)
    print(h.round(4).to_string())
    assert (h['verdict'] == 'ok').all(), h.to_string()

def test_forward_simulator_reproduces_the_pipelines_batch_predictions(tmp_path, series):
    "A production model replayed day by day, features truncated at every step, gives exactly its batch predictions."
    from stocknb.features import make_dataset
    from stocknb.forward_sim import ForwardSimulator
    df = series('planted', 2500, 11, phi=0.2)
    pipe = ProductionPipeline(PipelineConfig(symbol='PL', models_dir=str(tmp_path), skip_wfe_check=True))
    pipe.run_validation(data=df)
    pm = pipe.train_production(data=df, save=False)
    ds = make_dataset(df)
    replayed = {}
    for name, m in pm.models.items():
        res = ForwardSimulator(m, features=pm.features).run(df, start=df.index[-80])
        cmp = res.compare_with_batch(pd.Series(m.predict(ds.X), index=ds.X.index), tol=1e-9)
        assert cmp.consistent and cmp.n_compared == 80 and cmp.max_abs_diff <= 1e-9, str(cmp)
        replayed[name] = res.predictions
    # and `predict`, from bars that end on a replayed decision day, says what the replay said that day (the mean of
    # the models): its own path (bars checked, features of the last bar, each model, the mean) against the simulator's
    for day in (df.index[-41], df.index[-2]):
        r = pipe.predict(df.loc[:day], allow_in_sample=True)
        assert r.as_of == f"{day:%Y-%m-%d}" and r.in_sample
        assert r.per_model == pytest.approx({n: float(p.loc[day]) for n, p in replayed.items()}, abs=1e-12)
        assert r.predicted_return == pytest.approx(np.mean([p.loc[day] for p in replayed.values()]), abs=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Stacking: no skill on noise (and a confidence that says so), most of a planted signal, and not worse than its bases.

@pytest.fixture(scope='module')
def placebo_stacked(series):
    return {s: validate(series('walk', 3000, s), f'RW{s}', stacking=True) for s in PLACEBO_SEEDS}

@pytest.mark.parametrize('seed', PLACEBO_SEEDS)
def test_placebo_stack_does_not_pass_and_its_confidence_stays_near_half(placebo_stacked, seed):
    rep = placebo_stacked[seed]
    o, g = rep.results['stack'].oof_metrics, rep.gates['stack']
    assert abs(o.direction_accuracy - 0.5) <= 3 * o.direction_se and not g.passed and rep.passed == [], g.reason
    c = rep.stacking.confidence['confidence']
    print(f"seed {seed}: stack {o.direction_accuracy:.4f} ± {o.direction_se:.4f}; out-of-sample confidence mean "
          f"{c.mean():.4f}, sd {c.std():.4f}")
    assert abs(c.mean() - 0.5) < 0.03 and (c - 0.5).abs().quantile(0.9) < 0.06

@pytest.fixture(scope='module', params=['planted', 'regime-switching'])
def planted_stacked(request, series):
    df = series('planted' if request.param == 'planted' else 'regime', 8000, 7, phi=0.2)
    return request.param, df, validate(df, 'PLANTED', stacking=True)

def test_stack_not_below_its_best_base(planted_stacked):
    "On the stack's OOF days the stack is at most 1 s.e. below its best base; by how much it beats each, printed."
    name, df, rep = planted_stacked
    c = rep.stacking.comparison(df['Close'])
    acc, se = c['accuracy'].astype(float), float(c.loc['stack', 'se'])
    bases = acc[c['role'].str.startswith('base')]
    print(f"{name}: stack {acc['stack']:.4f} ± {se:.4f}; " + ', '.join(f"{m} {a:.4f} ({(acc['stack'] - a) / se:+.2f} s.e.)"
                                                                  for m, a in acc.drop('stack').items()))
    assert acc['stack'] >= bases.max() - se
    assert rep.gates['stack'].passed, rep.gates['stack'].reason

def test_stack_turns_regime_blind_bases_into_skill(series):
    "Ridge bases on the last returns cannot see the regime; the stack, which sees it, must beat them by ≥ 2 s.e."
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from stocknb.features import make_dataset
    from stocknb.stacking import StackingEnsembleTrainer
    from stocknb.walk_forward import SklearnModel
    def ridge(*cols):
        return lambda: SklearnModel(make_pipeline(ColumnTransformer([('c', 'passthrough', list(cols))]),
                                                  SimpleImputer(), StandardScaler(), Ridge(1.0)))
    df = series('regime', 8000, 7, phi=0.2); ds = make_dataset(df)
    sv = StackingEnsembleTrainer({'r1': ridge('ret_1d'), 'r3': ridge('ret_1d', 'ret_1d_lag1', 'sret_1d')}).validate(
        df, ds.X, ds.y, progress=False)
    c = sv.comparison(df['Close']); acc, se = c['accuracy'].astype(float), float(c.loc['stack', 'se'])
    print(f"regime-blind bases: stack {acc['stack']:.4f} ± {se:.4f}, r1 {acc['r1']:.4f}, r3 {acc['r3']:.4f}; "
          f"trees used in {int(sv.meta_tests.trees.sum())} of {len(sv.meta_tests)} meta folds")
    assert acc['stack'] >= acc[['r1', 'r3']].max() + 2 * se
    assert sv.meta_tests['trees'].any()

@pytest.mark.slow
@pytest.mark.parametrize('placebo', ['random walk', 'shuffled days'])
def test_pipeline_false_pass_rate_over_20_seeds(placebo):
    "Four models and the stack judged together on 20 placebo series: some model passes the gate on ≤ 2α of them."
    fp = false_pass_rate(('xgb', 'lgbm', 'lstm', 'xlstm'), seeds=range(20), days=3000, placebo=placebo)
    alpha = PipelineConfig().alpha
    print(fp.to_string())
    print(f"any p < alpha {fp.any_p_below_alpha.mean():.0%}, any Holm-significant {fp.any_holm_significant.mean():.0%}, "
          f"any passed the gate {fp.any_passed.mean():.0%}")
    assert fp.any_passed.mean() <= 2 * alpha


# ---------------------------------------------------------------------------------------------------------------
# Skill means timing: real days shuffled keep the drift and lose the timing; a lean with the drift is not skill.

SHUFFLE_SEEDS = (0, 1, 2)

@pytest.fixture(scope='module')
def shuffled_gbm():
    "xgb, lgbm and their stack on the shuffled days of every bundled symbol, three orders each."
    return {(s, k): validate(shuffled_days(load_ohlcv(s), seed=k), f'SH{s}', stacking=True)
            for s in sample_symbols() for k in SHUFFLE_SEEDS}

def _no_skill(rep, where):
    assert rep.passed == [], {m: g.reason for m, g in rep.gates.items()}
    for m, r in rep.results.items():
        o = r.oof_metrics
        assert abs(o.excess) <= 3 * o.excess_se, f"{where} {m}: {o}"

@pytest.mark.long
@pytest.mark.parametrize('symbol', sample_symbols())
def test_shuffled_days_no_gbm_or_stack_passes(shuffled_gbm, symbol):
    for k in SHUFFLE_SEEDS:
        rep = shuffled_gbm[(symbol, k)]
        assert set(rep.results) == {'xgb', 'lgbm', 'stack'}
        _no_skill(rep, f"shuffled {symbol} ({k})")

@pytest.mark.slow
@pytest.mark.long
@pytest.mark.parametrize('model', ['lstm', 'xlstm'])
def test_shuffled_days_no_sequence_model_passes(model):
    """Shuffled AAPL for each sequence model, 4 minutes on 2 cores: --slow. CI checks the same validations through
    the stored honesty tables of 10_lstm_transformer and 11_xlstm_ts (every shuffled symbol, verdict 'ok'), whose
    small case nbdev_test reruns bit for bit; every series and the stack over all four: the test below."""
    rep = validate(shuffled_days(load_ohlcv('AAPL'), seed=0), 'SHAAPL', models=(model,))
    print(rep.to_text())
    _no_skill(rep, f'shuffled AAPL (0), {model}')

@pytest.mark.slow
@pytest.mark.parametrize('symbol', sample_symbols())
def test_shuffled_days_no_model_passes_all_models(symbol):
    for k in SHUFFLE_SEEDS:
        rep = validate(shuffled_days(load_ohlcv(symbol), seed=k), f'SH{symbol}', stacking=True,
                       models=('xgb', 'lgbm', 'lstm', 'xlstm'))
        print(rep.to_text())
        _no_skill(rep, f"shuffled {symbol} ({k})")

def test_lean_long_passes_the_coin_and_fails_the_gate():
    "Up at random on 75 % of days, on a walk up on 55 % of days: accuracy ≥ 2 s.e. above 50 %, and no skill."
    from stocknb.features import make_dataset
    from stocknb.walk_forward import LeanLongModel, WalkForwardValidator
    ds = make_dataset(random_walk_ohlcv(8000, seed=5, sigma=0.015, drift=0.1257 * 0.015))
    wf = WalkForwardValidator(5).validate(LeanLongModel, ds.X, ds.y)
    o, cfg = wf.oof_metrics, PipelineConfig()
    assert o.n_direction >= 3000 and o.direction_accuracy - 0.5 >= 2 * o.direction_se, str(o)
    assert o.coin_pvalue < cfg.alpha                                  # what the gate used to test: a pass
    g = gate_decision('lean long', wf, cfg)
    assert not g.passed and g.failed == ['significance'], g.reason   # WFE, collapse and sign do not catch it
    assert abs(o.excess) < 3 * o.excess_se and abs(o.pred_up_share - 0.75) < 0.02
