"""Features and targets across modules: causality on real data, the registry contract, alignment, bad input, a placebo."""
import numpy as np, pandas as pd, pytest
from stocknb.core import DataError, LeakageError
from stocknb.data import load_ohlcv, random_walk_ohlcv, planted_signal_ohlcv, sample_symbols, validate_ohlcv
from stocknb.features import (FEATURES, FEATURE_NAMES, FEATURE_GROUPS, FEATURE_COUNT, WARMUP, warmup, Dataset,
                              feature_info, feature_set_hash, build_features, make_target, target_direction,
                              make_dataset, check_causal, perturb_after)

# Saved models depend on these: a change here is a breaking change (new feature set, retrain, bump the version).
PINNED_COUNT = 210
PINNED_SHA256 = '624fc713d48f2b49e3c0ce3f3a6fb7b6052c253cae8fd614c993b8c2ccf027d7'
PINNED_WARMUP = 269

@pytest.fixture(scope='module')
def bars():
    return {s: load_ohlcv(s) for s in sample_symbols()}

@pytest.fixture(scope='module')
def feats(bars):
    return {s: build_features(d) for s, d in bars.items()}

def test_names_and_order_are_pinned():
    assert FEATURE_COUNT == len(FEATURES) == len(FEATURE_NAMES) == PINNED_COUNT
    assert feature_set_hash() == PINNED_SHA256, "feature names or order changed: saved models would load the wrong columns"
    assert WARMUP == warmup == PINNED_WARMUP == max(f.lookback for f in FEATURES)
    info = feature_info()
    assert tuple(info.index) == FEATURE_NAMES and info.index.is_unique
    assert list(info.columns) == ['group', 'lookback', 'description']
    assert set(info['group']) == set(FEATURE_GROUPS) and len(FEATURE_GROUPS) >= 10
    assert feature_set_hash(reversed(FEATURE_NAMES)) != PINNED_SHA256

def test_output_shape_dtype_index(bars, feats):
    for s, X in feats.items():
        assert list(X.columns) == list(FEATURE_NAMES)
        assert X.index.equals(bars[s].index)
        assert (X.dtypes == 'float64').all()

@pytest.mark.parametrize('symbol', sample_symbols())
def test_finite_after_warmup_and_no_constant_columns(feats, symbol):
    F = feats[symbol].iloc[WARMUP:]
    finite = np.isfinite(F.to_numpy()).all(axis=0)
    assert finite.all(), f"non-finite after warm-up: {F.columns[~finite].tolist()}"
    const = F.columns[F.nunique() <= 1].tolist()
    assert not const, f"constant columns: {const}"

def test_declared_lookbacks_are_exact():
    X = build_features(random_walk_ohlcv(1200, seed=5))
    first = X.notna().to_numpy().argmax(axis=0)
    wrong = {f.name: (int(fv), f.lookback) for f, fv in zip(FEATURES, first) if fv != f.lookback}
    assert not wrong, f"(first defined row, declared lookback): {wrong}"
    assert X.iloc[WARMUP:].notna().all().all() and X.iloc[WARMUP - 1].isna().any()

@pytest.mark.parametrize('symbol', ['AAPL', 'MSFT', 'GOOG'])
def test_check_causal_on_bundled_symbols(bars, symbol):
    "Six cut dates per symbol (one just after the warm-up), each with plausible, garbage and truncated futures."
    df = bars[symbol]
    pos = [WARMUP + 5, len(df) // 4, len(df) // 2, 2 * len(df) // 3, len(df) - 30, len(df) - 2]
    rep = check_causal(build_features, df, cuts=list(df.index[pos]), seed=11)
    assert len(rep) == 18 and set(rep['mode']) == {'plausible', 'garbage', 'truncate'}
    assert rep['max_abs_diff'].max() == 0.0   # not just close: identical

def test_truncated_frames_match_full_frame(bars, feats):
    "What the forward simulator does: features of df cut at T equal the full features up to T (asserted there to 1e-9; here exact)."
    df, full = bars['IBM'], feats['IBM']
    for T in df.index[[WARMUP, 1000, 2345, len(df) - 1]]:
        part = build_features(df.loc[:T])
        pd.testing.assert_frame_equal(part, full.loc[:T], check_exact=True)

def test_independent_of_start_after_warmup(bars, feats):
    df, full = bars['MSFT'], feats['MSFT']
    for start in (1, 400):
        part = build_features(df.iloc[start:])
        a, b = full.iloc[start + WARMUP:].to_numpy(), part.iloc[WARMUP:].to_numpy()
        assert (np.abs(a - b) / (np.abs(a).max(axis=0) + 1e-12)).max() < 1e-6

def leak_shift(df): return np.log(df['Close']).diff().shift(-1).rename('next_ret')
def leak_centered(df): return df['Close'].rolling(5, center=True).mean().rename('centered_ma5')
def leak_scaler(df):
    r = np.log(df['Close']).diff()
    return ((r - r.mean()) / r.std()).rename('zscore_full')
def leak_bfill(df):   # a classic: filling warm-up gaps backwards copies a later value into earlier rows
    return df['Close'].rolling(10).mean().bfill().rename('ma10_bfilled').to_frame().assign(fine=df['Volume'])
def leak_next_open(df):   # one day ahead, through tomorrow's open only
    out = build_features(df)[['rsi_14']].copy()
    out['next_open'] = df['Open'].shift(-1) / df['Close']
    return out

@pytest.mark.parametrize('mode', ['plausible', 'garbage', 'truncate'])
@pytest.mark.parametrize('fn,column,first', [(leak_shift, 'next_ret', '2008-06-02'), (leak_centered, 'centered_ma5', '2008-05-30'),
                                            (leak_scaler, 'zscore_full', '2000-03-02'), (leak_next_open, 'next_open', '2008-06-02')])
def test_check_causal_catches_leaks(bars, fn, column, first, mode):
    with pytest.raises(LeakageError) as e: check_causal(fn, bars['AAPL'], cuts=['2008-06-02'], modes=(mode,))
    msg = str(e.value)
    assert f"{fn.__name__} is not causal: 1 column(s) changed at or before the cut 2008-06-02" in msg and repr(column) in msg, msg
    assert f"first differing date {first}" in msg, msg
    assert "'rsi_14'" not in msg                                   # causal columns beside a leaky one are not named

def test_bfill_leak_needs_nan_head():
    "bfill only leaks into the first rows; a cut inside them exposes it, a later cut rightly does not (nothing to fill there)."
    df = random_walk_ohlcv(400, seed=1)
    with pytest.raises(LeakageError, match="'ma10_bfilled'"):
        check_causal(leak_bfill, df, cuts=[df.index[3]], modes=('plausible',))
    check_causal(leak_bfill, df, cuts=[df.index[200]])

def test_perturbations_are_valid_and_differ(bars):
    df = bars['GOOG']
    cut = df.index[1500]
    for how in ('plausible', 'garbage'):
        for seed in range(3):
            p = perturb_after(df, cut, how, seed=seed)
            pd.testing.assert_frame_equal(validate_ohlcv(p), p)
            pd.testing.assert_frame_equal(p.loc[:cut], df.loc[:cut])
            assert (p.iloc[1501:].to_numpy() != df.iloc[1501:].to_numpy()).any(axis=1).all()
    with pytest.raises(DataError, match="how must be one of plausible, garbage"): perturb_after(df, cut, 'zeros')

def test_check_causal_arguments(bars):
    df = bars['IBM']
    with pytest.raises(DataError, match='cuts must be ≥ 1'): check_causal(build_features, df, cuts=0)
    with pytest.raises(DataError, match='leaves no rows after it'): check_causal(build_features, df, cuts=[df.index[-1]])
    with pytest.raises(DataError, match="fn must return a DataFrame, Series or array; got list"): check_causal(lambda d: [1], df, cuts=1)
    with pytest.raises(DataError, match=r"fn returned an array of shape \(3,\) for 3270 input rows"): check_causal(lambda d: np.zeros(3), df, cuts=1)
    with pytest.raises(LeakageError, match='is not deterministic'):
        rng = np.random.default_rng(0)
        check_causal(lambda d: pd.Series(rng.random(len(d)), index=d.index), df, cuts=1)

@pytest.mark.parametrize('symbol', ['AAPL', 'GOOG'])
@pytest.mark.parametrize('h', [1, 5])
def test_target_alignment(bars, symbol, h):
    "y[t] equals the log return from t to t+h computed independently, date by date."
    df = bars[symbol]
    y = make_target(df, h)
    close = dict(zip(df.index, df['Close']))
    dates = list(df.index)
    for i in [0, 1, 500, len(df) - h - 1]:
        assert y.loc[dates[i]] == pytest.approx(np.log(close[dates[i + h]] / close[dates[i]]), rel=1e-12, abs=1e-15)
    assert y.iloc[-h:].isna().all() and y.iloc[:-h].notna().all() and y.name == f'target_{h}d'
    d = target_direction(y)
    assert set(d.dropna().unique()) <= {0.0, 1.0} and d.isna().sum() == h
    assert ((d == 1) == (y > 0)).iloc[:-h].all()

@pytest.mark.parametrize('h', [1, 3])
def test_make_dataset_contract(bars, feats, h):
    df, full = bars['MSFT'], feats['MSFT']
    ds = make_dataset(df, horizon=h)
    assert isinstance(ds, Dataset) and ds.horizon == h
    X, y, X_live = ds
    assert X.index.equals(y.index) and X.index[0] == df.index[WARMUP]
    assert X_live.index.equals(df.index[-h:]) and len(X) == len(df) - WARMUP - h
    assert y.notna().all() and np.isfinite(X.to_numpy()).all() and np.isfinite(X_live.to_numpy()).all()
    pd.testing.assert_frame_equal(pd.concat([X, X_live]), full.iloc[WARMUP:])
    pd.testing.assert_series_equal(y, make_target(df, h).iloc[WARMUP:-h])
    assert y.index[-1] == df.index[-h - 1]                         # the last known target ends on the last day
    sub = make_dataset(df, h, features=['vol_cc_20', 'ret_1d'])
    assert list(sub.X.columns) == ['vol_cc_20', 'ret_1d'] and list(sub.X_live.columns) == ['vol_cc_20', 'ret_1d']

def test_bad_input_is_refused(bars):
    df = bars['AAPL']
    with pytest.raises(DataError, match=f"too few rows for the features: 100; need at least {WARMUP + 1}"): build_features(df.iloc[:100])
    with pytest.raises(DataError, match=f"too few rows for a dataset: {WARMUP + 2}; need at least {WARMUP + 3}"): make_dataset(df.iloc[:WARMUP + 2], horizon=2)
    bad = df.copy(); bad.iloc[10, 1] = bad.iloc[10, 2] / 2    # High below Low
    with pytest.raises(DataError, match="High below max"): build_features(bad)
    with pytest.raises(DataError, match="column 'Close' missing"): build_features(df.rename(columns={'Close': 'close'}))
    with pytest.raises(DataError, match="expected a pandas DataFrame"): build_features(df.to_numpy())
    with pytest.raises(DataError, match="horizon must be an integer ≥ 1"): make_dataset(df, horizon=0)
    with pytest.raises(DataError, match="unknown feature name"): make_dataset(df, features=['ret_1d', 'future_ret'])
    assert isinstance(DataError('x'), ValueError)

def test_degenerate_but_valid_data_stays_finite():
    "Zero volume and flat stretches (a halted stock) are valid OHLCV: features stay finite after warm-up."
    df = random_walk_ohlcv(700, seed=9)
    df.iloc[300:340, :4] = df['Close'].iloc[299]     # 40 identical flat bars, H = L = O = C
    df.iloc[350:380, 4] = 0.0                         # no trading volume for 30 days
    ds = make_dataset(df)
    assert np.isfinite(ds.X.to_numpy()).all()

def test_placebo_and_planted_signal():
    "No feature predicts a random walk's next return beyond noise; on AR(1) returns ret_1d carries the planted φ."
    n = 20_000
    ds = make_dataset(random_walk_ohlcv(n, seed=21))
    c = ds.X.corrwith(ds.y).abs()
    bound = 4.5 / np.sqrt(len(ds.y))
    assert c.max() < bound, f"suspicious placebo correlations: {c[c >= bound].round(4).to_dict()}"
    phi = 0.2
    ds = make_dataset(planted_signal_ohlcv(n, phi=phi, seed=21))
    assert abs(np.corrcoef(ds.X['ret_1d'], ds.y)[0, 1] - phi) < 4 / np.sqrt(len(ds.y))
