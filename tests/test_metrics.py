"""Metrics against the references users compare with: quantstats (Sharpe, Sortino, max drawdown, Calmar, PSR
formula), the worked example of Bailey & López de Prado's deflated Sharpe ratio paper, and PBO on known answers."""
import math
import numpy as np, pandas as pd, pytest
import quantstats as qs
from scipy.stats import norm
from stocknb.core import DataError
from stocknb.metrics import (pesaran_timmermann, adjust_pvalues, holm_bonferroni,
                             ValidationMetrics, WFE, calculate_wfe, pardo_wfe, sharpe_ratio, sortino_ratio,
                             max_drawdown,
                             calmar_ratio, cagr, strategy_returns, direction_accuracy, probabilistic_sharpe_ratio,
                             deflated_sharpe_ratio, expected_max_sharpe, sharpe_moments, probability_of_backtest_overfitting,
                             detect_variance_collapse, detect_sign_imbalance)
from stocknb.walk_forward import CombinatorialPurgedCV

RTOL = 1e-9

def _series(kind, n, seed):
    rng = np.random.default_rng(seed)
    r = {'normal': rng.normal(0.0004, 0.01, n), 'fat': rng.standard_t(3, n) * 0.008 + 0.0002,
         'losing': rng.normal(-0.0006, 0.012, n), 'skewed': np.expm1(rng.normal(0.0003, 0.015, n)) - 0.0001}[kind]
    return pd.Series(r, index=pd.bdate_range('2010-01-04', periods=n))

SERIES = [(k, n, s) for k in ('normal', 'fat', 'losing', 'skewed') for n, s in ((60, 1), (750, 2), (2520, 3))]
IDS = [f'{k}-{n}' for k, n, _ in SERIES]

def _close(ours, theirs):
    assert math.isfinite(theirs), theirs
    assert ours == pytest.approx(theirs, rel=RTOL, abs=0), (ours, theirs, abs(ours / theirs - 1))

# ---------------------------------------------------------------- agreement with quantstats 0.0.86 (pandas 3)
@pytest.mark.parametrize('kind,n,seed', SERIES, ids=IDS)
def test_sharpe_matches_quantstats(kind, n, seed):
    r = _series(kind, n, seed)
    _close(sharpe_ratio(r), qs.stats.sharpe(r))
    _close(sharpe_ratio(r, annualize=False), qs.stats.sharpe(r, annualize=False))
    _close(sharpe_ratio(r, rf=0.03), qs.stats.sharpe(r, rf=0.03))            # annual rf → (1 + rf)^(1/252) − 1 per day

@pytest.mark.parametrize('kind,n,seed', SERIES, ids=IDS)
def test_sortino_matches_quantstats(kind, n, seed):
    r = _series(kind, n, seed)
    _close(sortino_ratio(r), qs.stats.sortino(r))
    _close(sortino_ratio(r, rf=0.03), qs.stats.sortino(r, rf=0.03))

@pytest.mark.parametrize('kind,n,seed', SERIES, ids=IDS)
def test_max_drawdown_matches_quantstats(kind, n, seed):
    r = _series(kind, n, seed)
    _close(max_drawdown(r), qs.stats.max_drawdown(r))

@pytest.mark.parametrize('kind,n,seed', SERIES, ids=IDS)
def test_calmar_matches_quantstats(kind, n, seed):
    r = _series(kind, n, seed)
    _close(calmar_ratio(r), qs.stats.calmar(r))
    _close(cagr(r), qs.stats.cagr(r))

def test_arrays_and_series_agree():
    r = _series('fat', 500, 9)
    for f in (sharpe_ratio, sortino_ratio, max_drawdown, calmar_ratio):
        assert f(r) == f(r.to_numpy()) == f(list(r))

def test_first_day_loss_is_a_drawdown():
    r = pd.Series([-0.05, 0.01, 0.01], index=pd.bdate_range('2020-01-01', periods=3))
    assert max_drawdown(r) == pytest.approx(-0.05, abs=1e-15) == qs.stats.max_drawdown(r)

def test_psr_formula_matches_quantstats_with_its_moments():
    # quantstats estimates skewness/kurtosis with pandas' bias-corrected estimators; stocknb, like the authors' code,
    # uses the population moments. Given the same moments the formulas agree exactly; the defaults differ slightly.
    for kind, n, seed in SERIES:
        r = _series(kind, n, seed)
        m = sharpe_moments(r)
        ours = probabilistic_sharpe_ratio(sr=m['sr'], n_obs=n, skew=r.skew(), kurtosis=r.kurt() + 3)
        _close(ours, qs.stats.probabilistic_sharpe_ratio(r))
        assert abs(probabilistic_sharpe_ratio(r) - ours) < 0.02

# ---------------------------------------------------------------- PSR / DSR: Bailey & López de Prado (2014)
# "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality",
# Journal of Portfolio Management 40(5), SSRN 2460551, numerical example: N = 100 trials, annualized
# V[SR_n] = 1/2, selected annualized SR 2.5 over T = 1250 daily returns (250 a year), skewness -3,
# kurtosis 10 -> SR0 = 0.1132 (non-annualized), DSR = 0.9004; N = 46 -> 0.9505; normal returns need N = 88 for 0.9505.
PAPER = dict(sr=2.5 / math.sqrt(250), n_obs=1250, skew=-3.0, kurtosis=10.0)
V = 0.5 / 250

def test_dsr_paper_example_sr0():
    assert round(expected_max_sharpe(100, V), 4) == 0.1132
    assert round(expected_max_sharpe(100, V) * math.sqrt(250), 2) == 1.79

def test_dsr_paper_example_dsr():
    assert round(deflated_sharpe_ratio(n_trials=100, sr_variance=V, **PAPER), 4) == 0.9004
    assert round(deflated_sharpe_ratio(n_trials=46, sr_variance=V, **PAPER), 4) == 0.9505
    assert round(deflated_sharpe_ratio(n_trials=88, sr_variance=V, sr=PAPER['sr'], n_obs=1250, skew=0.0, kurtosis=3.0), 4) == 0.9505

def test_dsr_is_psr_against_sr0_and_raw_kurtosis_matters():
    sr0 = expected_max_sharpe(100, V)
    assert deflated_sharpe_ratio(n_trials=100, sr_variance=V, **PAPER) == probabilistic_sharpe_ratio(sr_benchmark=sr0, **PAPER)
    wrong = probabilistic_sharpe_ratio(sr_benchmark=sr0, **(PAPER | {'kurtosis': 7.0}))     # excess kurtosis by mistake
    assert round(wrong, 4) != 0.9004

def test_dsr_from_trial_sharpes():
    rng = np.random.default_rng(0)
    trials = rng.normal(0, 0.03, 40)
    r = rng.normal(0.001, 0.01, 800)
    assert deflated_sharpe_ratio(r, trial_sharpes=trials) == deflated_sharpe_ratio(r, n_trials=40, sr_variance=trials.var(ddof=1))

def test_psr_normal_case_is_lo():
    assert probabilistic_sharpe_ratio(sr=0.1, n_obs=101) == pytest.approx(norm.cdf(1.0 / math.sqrt(1.005)), rel=1e-12)

def test_psr_bad_input():
    with pytest.raises(DataError, match='give returns, or the statistics sr and n_obs'): probabilistic_sharpe_ratio()
    with pytest.raises(DataError, match='n_trials must be an integer ≥ 2; got 1'): expected_max_sharpe(1, 0.1)

# ---------------------------------------------------------------- PBO (Bailey, Borwein, López de Prado, Zhu 2015)
def test_pbo_dominant_strategy_is_zero():
    M = np.random.default_rng(1).normal(0, 0.01, (1000, 20)); M[:, 3] += 0.004
    res = probability_of_backtest_overfitting(M)
    assert res.pbo == 0.0 and set(res.best_is) == {3} and res.n_splits == math.comb(16, 8)

def test_pbo_pure_noise_is_about_half():
    # Per seed the PBO of noise ranges widely (the 12,870 choices share the same data); its mean is 1/2.
    v = [probability_of_backtest_overfitting(np.random.default_rng(s).normal(0, 0.01, (1000, 20))).pbo for s in range(20)]
    assert 0.4 < np.mean(v) < 0.66, v
    assert max(v) > 0.5

def test_pbo_fast_path_equals_direct_computation():
    M = np.random.default_rng(2).normal(0, 0.01, (300, 7)); M[:, 1] += 0.001
    fast = probability_of_backtest_overfitting(M, n_blocks=8)
    slow = probability_of_backtest_overfitting(M, n_blocks=8, metric=lambda A: A.mean(0) / A.std(0, ddof=1))
    np.testing.assert_allclose(fast.logits, slow.logits, rtol=1e-9)
    assert fast.pbo == slow.pbo

def test_pbo_with_purged_cpcv_splits():
    M = np.random.default_rng(3).normal(0, 0.01, (800, 10)); M[:, 0] += 0.004
    res = probability_of_backtest_overfitting(M, splits=CombinatorialPurgedCV(8, 4, purge=5))
    assert res.n_splits == 70 and res.pbo == 0.0

def test_pbo_bad_input():
    with pytest.raises(DataError, match='n_blocks must be an even integer'): probability_of_backtest_overfitting(np.zeros((100, 3)), n_blocks=5)
    with pytest.raises(DataError, match='NaN/inf'): probability_of_backtest_overfitting(np.full((100, 3), np.nan))

# ---------------------------------------------------------------- ValidationMetrics, sign strategy, WFE, detectors
def test_sign_strategy_and_zero_conventions():
    y = np.log([1.02, 0.99, 1.0, 1.01, 0.98, 1.03])
    pred = np.array([1.0, 1.0, 1.0, 0.0, np.nan, -1.0])
    np.testing.assert_allclose(strategy_returns(y, pred), [0.02, -0.01, 0.0, 0.0, 0.0, -0.03], atol=1e-15)
    assert direction_accuracy(y, pred) == 1 / 4                     # y == 0 and zero predictions (abstentions) excluded; NaN is a miss
    m = ValidationMetrics.from_predictions(y, pred)
    assert (m.n, m.n_direction, m.hits, m.n_nan_pred, m.n_abstain) == (6, 4, 1, 1, 1)
    assert m.coverage == 5 / 6

def test_abstaining_model_on_noise_is_not_anti_skill():
    "A model that says 'no view' on a third of the days scores ~50 % on its calls, not ~33 %."
    rng = np.random.default_rng(11)
    y = rng.normal(0, 0.01, 6000)
    pred = np.where(rng.random(6000) < 1 / 3, 0.0, rng.normal(size=6000))
    m = ValidationMetrics.from_predictions(y, pred)
    assert abs(m.direction_accuracy - 0.5) < 3 * m.direction_se and m.n_direction == 6000 - m.n_abstain
    assert m.direction_pvalue > 0.01

def test_validation_metrics_sharpe_is_the_sign_strategy():
    rng = np.random.default_rng(4)
    y, pred = rng.normal(0, 0.01, 400), rng.normal(size=400)
    m = ValidationMetrics.from_predictions(y, pred)
    r = np.sign(pred) * np.expm1(y)
    assert m.sharpe == sharpe_ratio(r) and m.sortino == sortino_ratio(r) and m.max_drawdown == max_drawdown(r)
    hits = int((np.sign(pred) == np.sign(y)).sum())
    assert m.coin_pvalue == pytest.approx(sum(math.comb(400, i) for i in range(hits, 401)) / 2**400, rel=1e-9)
    assert m.direction_pvalue == pesaran_timmermann(y, pred).pvalue
    assert m.ic == pytest.approx(np.corrcoef(pred, y)[0, 1], rel=1e-12)

def test_wfe_seed_example_and_undefined_cases():
    assert calculate_wfe(0.55, 0.52) == pytest.approx(40.0)
    u = calculate_wfe(0.50, 0.55)
    assert isinstance(u, WFE) and math.isnan(u) and 'validation edge is not positive' in u.reason and not u >= 50
    assert pardo_wfe([0.002, 0.0], [0.0005, 0.0005]) == pytest.approx(50.0)
    assert not pardo_wfe([-0.001, 0.0], [0.001, 0.001]).defined

def test_detectors_flag_the_seed_failure_modes():
    rng = np.random.default_rng(5)
    y = rng.normal(0.0003, 0.015, 2000)
    for share in (0.89, 0.93, 0.99):
        pred = np.where(rng.random(2000) < share, 1.0, -1.0) * rng.uniform(1e-4, 1e-3, 2000)
        assert detect_sign_imbalance(pred, y).flag
    assert not detect_sign_imbalance(rng.normal(size=2000), y).flag
    assert detect_variance_collapse(np.full(2000, 3e-4), y).flag
    assert detect_variance_collapse(3e-4 + rng.normal(0, 1e-5, 2000), y).flag
    assert not detect_variance_collapse(0.1 * y + rng.normal(0, 0.001, 2000), y).flag


def _pt_by_table(a, b, c, d):
    "Pesaran–Timmermann from a 2×2 table (called up/went up a, up/down b, down/up c, down/down d), written out."
    from scipy.stats import norm
    n = a + b + c + d
    P, px, py = (a + d) / n, (a + b) / n, (a + c) / n
    Ps = py * px + (1 - py) * (1 - px)
    v = Ps * (1 - Ps) / n - ((2*py - 1)**2 * px*(1 - px) / n + (2*px - 1)**2 * py*(1 - py) / n
                             + 4*py*px*(1 - py)*(1 - px) / n**2)
    S = (P - Ps) / math.sqrt(v)
    return S, norm.sf(S)

@pytest.mark.parametrize('table', [(5, 2, 1, 2), (300, 100, 250, 350), (40, 60, 5, 7), (1000, 1, 1, 1)])
def test_pesaran_timmermann_matches_the_formula_and_the_sign_correlation(table):
    a, b, c, d = table
    y = np.r_[np.full(a, .01), np.full(b, -.01), np.full(c, .01), np.full(d, -.01)]
    p = np.r_[np.ones(a + b), -np.ones(c + d)]
    t = pesaran_timmermann(y, p)
    S, pv = _pt_by_table(*table)
    assert t.statistic == pytest.approx(S, rel=1e-10) and t.pvalue == pytest.approx(pv, rel=1e-8)
    n = a + b + c + d       # S = n/√(n−1)·(the correlation of the two sign series): a test of independence
    assert t.statistic == pytest.approx(n / math.sqrt(n - 1) * np.corrcoef(np.sign(y), p)[0, 1], rel=1e-10)

def test_pesaran_timmermann_lean_long_is_not_skill():
    "Calls independent of the outcome, leaning the way the market drifts: the coin is fooled, PT is not."
    rng = np.random.default_rng(5)
    n = 8000
    y = np.where(rng.random(n) < 0.55, 0.01, -0.01)
    pred = np.where(rng.random(n) < 0.75, 1.0, -1.0)
    m = ValidationMetrics.from_predictions(y, pred)
    assert m.direction_accuracy - 0.5 > 3 * m.direction_se and m.coin_pvalue < 1e-3
    assert abs(m.excess) < 3 * m.excess_se and m.direction_pvalue > 0.01
    assert m.skill_free_accuracy == pytest.approx(0.525, abs=0.01)
    assert (m.pred_up_share, m.outcome_up_share) == (np.mean(pred > 0), np.mean(y > 0))

def test_pesaran_timmermann_undefined_cases_fail_closed():
    t = pesaran_timmermann([0.01, 0.02, -0.01], [1.0, 2.0, 3.0])            # every call up
    assert math.isnan(t.statistic) and math.isnan(t.pvalue) and t.excess == 0
    assert pesaran_timmermann([0.0, 0.0], [1.0, -1.0]).n == 0                  # no direction on any day
    m = ValidationMetrics.from_predictions([0.01, 0.02, -0.01], [1.0, 2.0, 3.0])
    assert math.isnan(m.direction_pvalue) and not (m.direction_pvalue < 0.01)   # a gate `p < alpha` fails it
    assert holm_bonferroni([m.direction_pvalue])['adjusted_p'].iloc[0] == 1.0

def test_adjust_pvalues_agree_with_statsmodels():
    import gc
    from statsmodels.stats.multitest import multipletests
    rng = np.random.default_rng(2)
    gc.freeze()     # statsmodels' Holm calls gc.collect(): let it scan only new objects (19 s → 0.1 s in a busy worker)
    try:
        for _ in range(50):
            p = rng.uniform(0, 0.1, rng.integers(1, 40)) ** rng.uniform(0.5, 2)
            for ours, theirs in (('holm', 'holm'), ('bh', 'fdr_bh')):
                np.testing.assert_allclose(adjust_pvalues(p, ours, 0.01)['adjusted_p'],
                                           multipletests(p, 0.01, theirs)[1], rtol=1e-12)
    finally: gc.unfreeze()
