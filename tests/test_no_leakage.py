"""No-leakage tests: nothing from an evaluation block, or after it, reaches what a model is fitted on.
One class per mechanism (walk-forward folds, the three-way split; later issues add features, backtests, ...)."""
import numpy as np, pandas as pd, pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import TimeSeriesSplit, cross_val_score
from stocknb.core import DataError, LeakageError
from stocknb.data import planted_signal_ohlcv
from stocknb.splits import three_way_split, TrainOnlyScaler, make_sequences
from stocknb.walk_forward import WalkForwardValidator, RidgeModel, CombinatorialPurgedCV

def lagged_returns(n=1500, seed=0, lags=3):
    "Causal demo features (log returns known at the close of t) and y[t] = log(close[t+1]/close[t])."
    c = planted_signal_ohlcv(n, phi=0.2, seed=seed)['Close']
    r = np.log(c).diff()
    X = pd.DataFrame({f'ret_lag{i}': r.shift(i) for i in range(lags)})
    y = np.log(c.shift(-1) / c).rename('y')
    keep = X.notna().all(axis=1) & y.notna()
    return X[keep], y[keep]

CONFIGS = {
    'anchored-default': dict(),
    'anchored-no-val': dict(n_splits=4, val_size=0, purge=0),
    'anchored-embargo': dict(n_splits=3, purge=2, embargo=5, val_size=60, test_size=120),
    'rolling-default': dict(n_splits=5, mode='rolling'),
    'rolling-sized': dict(n_splits=4, mode='rolling', train_size=250, val_size=50, test_size=100, purge=3, embargo=1),
    'rolling-lookback': dict(n_splits=3, mode='rolling', train_size=200, lookback=20, purge=1, embargo=2),
}
SIZES = (700, 1001, 2520)
CASES = [(name, n) for name in CONFIGS for n in SIZES]
IDS = [f'{name}-{n}' for name, n in CASES]

def folds(name, n): return WalkForwardValidator(**CONFIGS[name]).folds(n)

class TestWalkForwardNoOverlap:
    @pytest.mark.parametrize('name,n', CASES, ids=IDS)
    def test_no_overlap_between_train_val_test(self, name, n):
        for f in folds(name, n):
            for a, b in ((f.train, f.val), (f.train, f.test), (f.val, f.test)):
                assert len(np.intersect1d(a, b)) == 0

    @pytest.mark.parametrize('name,n', CASES, ids=IDS)
    def test_purge_gap_honoured_exactly(self, name, n):
        wf = WalkForwardValidator(**CONFIGS[name])
        g = wf.purge + wf.embargo + wf.lookback - 1
        for f in wf.folds(n):
            if len(f.val):
                assert f.val[0] - f.train[-1] - 1 == g and f.test[0] - f.val[-1] - 1 == g
            else:
                assert f.test[0] - f.train[-1] - 1 == g
            for b in (f.train, f.val, f.test):                      # every block contiguous, in time order
                assert (np.diff(b) == 1).all()

    @pytest.mark.parametrize('name,n', CASES, ids=IDS)
    def test_test_blocks_cover_oof_range_once(self, name, n):
        fs = folds(name, n)
        tests = np.concatenate([f.test for f in fs])
        t = len(fs[0].test)
        np.testing.assert_array_equal(tests, np.arange(n - len(fs) * t, n))    # consecutive, no overlap, no hole, ends at the last row

    @pytest.mark.parametrize('n', SIZES)
    def test_anchored_train_starts_fixed(self, n):
        for name in ('anchored-default', 'anchored-no-val', 'anchored-embargo'):
            fs = folds(name, n)
            assert all(f.train[0] == 0 for f in fs)
            assert all(len(b.train) > len(a.train) for a, b in zip(fs, fs[1:]))   # expanding

    @pytest.mark.parametrize('n', SIZES)
    def test_rolling_train_length_fixed(self, n):
        fs = folds('rolling-default', n)                       # train_size=None: the first fold's length, in every fold
        assert len({len(f.train) for f in fs}) == 1 and fs[0].train[0] == 0
        assert all(b.train[0] > a.train[0] for a, b in zip(fs, fs[1:]))           # the window moves forward
        for name in ('rolling-sized', 'rolling-lookback'):
            L = CONFIGS[name]['train_size']
            for f in folds(name, n):                           # L rows once that much history exists (sklearn's max_train_size rule)
                assert len(f.train) == min(L, f.train[-1] + 1)
                assert f.train[0] == 0 or len(f.train) == L
        assert {len(f.train) for f in folds('rolling-sized', 2520)} == {250}

    @pytest.mark.parametrize('n', (60, 333, 1000, 2520))
    @pytest.mark.parametrize('k,purge,test_size', [(2, 0, None), (5, 1, None), (5, 3, 40), (8, 2, 25)])
    @pytest.mark.parametrize('mode,train_size', [('anchored', None), ('rolling', 30), ('rolling', 400)])
    def test_equals_sklearn_time_series_split(self, n, k, purge, test_size, mode, train_size):
        ours = WalkForwardValidator(k, mode, train_size=train_size, val_size=0, test_size=test_size, purge=purge)
        theirs = TimeSeriesSplit(k, test_size=test_size, gap=purge, max_train_size=train_size)
        try: expected = list(theirs.split(np.zeros(n)))
        except ValueError:
            with pytest.raises(DataError, match='rows are too few'): list(ours.split(np.zeros(n)))
            return
        got = list(ours.split(np.zeros(n)))
        assert len(got) == len(expected) == ours.get_n_splits()
        for (a, b), (c, d) in zip(got, expected):
            np.testing.assert_array_equal(a, c); np.testing.assert_array_equal(b, d)

    def test_works_in_cross_val_score(self):
        X, y = lagged_returns()
        wf = WalkForwardValidator(4, val_size=0)
        scores = cross_val_score(Ridge(), X, y, cv=wf, scoring='r2')
        by_hand = [Ridge().fit(X.iloc[tr], y.iloc[tr]).score(X.iloc[te], y.iloc[te]) for tr, te in wf.split(X)]
        np.testing.assert_allclose(scores, by_hand, rtol=1e-12)

    def test_model_is_fitted_only_on_rows_before_the_gap(self):
        X, y = lagged_returns()
        seen = []
        class Spy(RidgeModel):
            def fit(self, X_train, y_train, X_val=None, y_val=None):
                seen.append((X_train.index, y_train.index, X_val.index, y_val.index))
                return super().fit(X_train, y_train)
        wf = WalkForwardValidator(4, purge=2, embargo=3)
        wf.validate(Spy, X, y, score_train=False)
        for (xt, yt, xv, yv), f in zip(seen, wf.folds(X)):
            assert xt.equals(yt) and xv.equals(yv)
            assert X.index.get_loc(xt[-1]) == f.val[0] - 6          # 2 purge + 3 embargo rows between
            assert xv[-1] < X.index[f.test[0] - 5] and xv[0] == X.index[f.val[0]]

    def test_oof_predictions_do_not_depend_on_the_future(self):
        X, y = lagged_returns()
        wf = WalkForwardValidator(4)
        base = wf.validate(lambda: RidgeModel(10.0), X, y, score_train=False)
        for k in range(3):
            cut = wf.folds(X)[k].test[-1] + 1
            Xf, yf = X.copy(), y.copy()
            rng = np.random.default_rng(k)
            Xf.iloc[cut:] = rng.normal(size=Xf.iloc[cut:].shape); yf.iloc[cut:] = rng.normal(size=len(yf) - cut)
            pert = wf.validate(lambda: RidgeModel(10.0), Xf, yf, score_train=False)
            pd.testing.assert_series_equal(pert.oof.iloc[:(k + 1) * len(wf.folds(X)[0].test)], base.oof.iloc[:(k + 1) * len(wf.folds(X)[0].test)])
            assert not np.allclose(pert.oof.iloc[-10:], base.oof.iloc[-10:])

    def test_warmup_inputs_never_reach_the_previous_block(self):
        wf = WalkForwardValidator(4, lookback=30, purge=2, embargo=1)
        for f in wf.folds(2000):
            assert f.inputs('val')[0] > f.train[-1] + wf.purge + wf.embargo
            assert f.inputs('test')[0] > f.val[-1] + wf.purge + wf.embargo
            assert len(f.inputs('test')) == len(f.test) + 29

    def test_impossible_sizes_raise_data_error(self):
        with pytest.raises(DataError, match=r'n=500 rows are too few for 5 folds with test_size=100, val_size=100 and gaps of 1 row\(s\)'):
            WalkForwardValidator(5, test_size=100).folds(500)
        with pytest.raises(DataError, match="train_size is only used with mode='rolling'"): WalkForwardValidator(train_size=10)
        with pytest.raises(DataError, match='n_splits must be an integer ≥ 1; got 0'): WalkForwardValidator(0)

    def test_cpcv_train_and_test_disjoint_and_purged(self):
        cv = CombinatorialPurgedCV(6, 2, purge=3, embargo=2)
        for train, test in cv.split(900):
            assert len(np.intersect1d(train, test)) == 0
            starts = test[np.r_[True, np.diff(test) != 1]]; ends = test[np.r_[np.diff(test) != 1, True]]
            for a in starts: assert not np.isin(np.arange(a - 3, a), train).any()
            for b in ends: assert not np.isin(np.arange(b + 1, b + 1 + 3 + 2), train).any()      # purge + embargo after a run
            for b in ends:
                if b + 1 + 3 + 2 < 900 and b + 1 + 3 + 2 not in test: assert b + 1 + 3 + 2 in train  # and not one row more

    def test_cpcv_defaults_never_train_on_the_row_after_a_test_run(self):
        "That row's return features hold the run's last label (h = 1): it must be purged (skfolio's rule)."
        for train, test in CombinatorialPurgedCV(6, 2).split(600):
            ends = test[np.r_[np.diff(test) != 1, True]]
            assert not np.isin(ends + 1, train).any()


class TestThreeWaySplitNoLeakage:
    @pytest.mark.parametrize('n', (40, 101, 1000, 3270))
    @pytest.mark.parametrize('purge,lookback', [(0, 1), (1, 1), (5, 1), (1, 10)])
    def test_no_overlap_and_time_order(self, n, purge, lookback):
        try: tr, va, te = three_way_split(n, purge=purge, lookback=lookback)
        except DataError: assert n < 100; return
        assert tr[-1] < va[0] and va[-1] < te[0]
        assert not (set(tr) & set(va) or set(va) & set(te) or set(tr) & set(te))
        for b in (tr, va, te): assert (np.diff(b) == 1).all()

    @pytest.mark.parametrize('purge,lookback', [(0, 1), (1, 1), (3, 1), (1, 60), (2, 20)])
    def test_exact_purge_sizes(self, purge, lookback):
        s = three_way_split(2520, purge=purge, lookback=lookback)
        assert s.val[0] - s.train[-1] - 1 == purge + lookback - 1
        assert s.test[0] - s.val[-1] - 1 == purge + lookback - 1

    def test_test_block_is_the_tail_whatever_the_gaps(self):
        ref = three_way_split(2520).test
        for purge, lookback in ((0, 1), (5, 1), (1, 60)):
            np.testing.assert_array_equal(three_way_split(2520, purge=purge, lookback=lookback).test, ref)
        assert ref[0] == 2016 and ref[-1] == 2519

    @pytest.mark.parametrize('kind', ['robust', 'standard'])
    def test_scaler_statistics_equal_the_training_rows(self, kind):
        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.standard_t(3, (900, 4)), index=pd.bdate_range('2001-01-01', periods=900), columns=list('abcd'))
        s = three_way_split(X)
        sc = TrainOnlyScaler(kind).fit(X, s.train)
        tr = X.iloc[s.train]
        if kind == 'robust':
            np.testing.assert_allclose(sc.scaler_.center_, tr.median(), rtol=1e-12)
            np.testing.assert_allclose(sc.scaler_.scale_, tr.quantile(0.75) - tr.quantile(0.25), rtol=1e-12)
        else:
            np.testing.assert_allclose(sc.scaler_.mean_, tr.mean(), rtol=1e-12)
            np.testing.assert_allclose(sc.scaler_.scale_, tr.std(ddof=0), rtol=1e-12)

    def test_scaler_ignores_everything_after_the_training_rows(self):
        rng = np.random.default_rng(1)
        X = pd.DataFrame(rng.normal(size=(600, 3)), index=pd.bdate_range('2001-01-01', periods=600))
        s = three_way_split(X)
        a = TrainOnlyScaler().fit(X, s.train)
        X2 = X.copy(); X2.iloc[s.train[-1] + 1:] = rng.normal(50, 20, size=X2.iloc[s.train[-1] + 1:].shape)
        b = TrainOnlyScaler().fit(X2, s.train)
        np.testing.assert_array_equal(a.scaler_.center_, b.scaler_.center_)
        np.testing.assert_array_equal(a.transform(X).iloc[s.train], b.transform(X2).iloc[s.train])
        a.check_fitted_before(s.val[0])
        with pytest.raises(LeakageError, match='at or after row'): TrainOnlyScaler().fit(X).check_fitted_before(s.val[0])

    @pytest.mark.parametrize('lookback,purge', [(2, 1), (20, 1), (60, 3)])
    def test_no_window_straddles_a_boundary(self, lookback, purge):
        rng = np.random.default_rng(2)
        X = pd.DataFrame(rng.normal(size=(1500, 2)), index=pd.bdate_range('2001-01-01', periods=1500))
        y = pd.Series(rng.normal(size=1500), index=X.index)
        s = three_way_split(X, lookback=lookback, purge=purge)
        owner = np.full(len(X), -1); owner[s.train], owner[s.val], owner[s.test] = 0, 1, 2
        for k, name in enumerate(('train', 'val', 'test')):
            q = s.sequences(X, y, name)
            windows = q.rows[:, None] - np.arange(lookback)[::-1]              # row positions each window reads
            assert windows.min() >= 0
            assert set(np.unique(owner[windows])) <= {k, -1}                    # only its own targets and gap rows
            if k: assert windows.min() > s.block(('train', 'val')[k - 1])[-1] + purge   # never a purge row either
            np.testing.assert_array_equal(q.X[:, :, 0], X.to_numpy()[windows, 0].astype('float32'))

    def test_make_sequences_refuses_crossing_windows(self):
        X = np.random.default_rng(3).normal(size=(300, 2))
        s = three_way_split(300, lookback=1)                  # a split made without warm-up rows
        q = make_sequences(X, lookback=10, rows=s.val)        # default warmup=0: windows stay inside the block
        assert q.rows[0] == s.val[0] + 9
        with pytest.raises(DataError, match='warmup must be ≤ lookback − 1'): make_sequences(X, lookback=10, rows=s.val, warmup=10)
        with pytest.raises(DataError, match='contiguous block'): make_sequences(X, lookback=10, rows=np.r_[s.train, s.val])

    def test_impossible_sizes_raise_data_error_naming_the_numbers(self):
        with pytest.raises(DataError, match=r'n=30 rows are too few for train=0.6, val=0.2, purge=1, lookback=20: the train block would have -2 row\(s\)'):
            three_way_split(30, lookback=20)
        with pytest.raises(DataError, match=r'train \+ val must be < 1'): three_way_split(100, train=0.7, val=0.3)
        with pytest.raises(DataError, match='purge must be an integer ≥ 0; got -2'): three_way_split(100, purge=-2)


# ---------------------------------------------------------------- backtester timing
from stocknb.backtest import Backtester, positions_from_predictions
from stocknb.data import random_walk_ohlcv

def rw_close(n=3000, seed=5):
    return random_walk_ohlcv(n, seed=seed)['Close']

class TestBacktestAlignment:
    def test_lag_applied(self):
        c = rw_close(50)
        pos = pd.Series(np.random.default_rng(1).choice([-1.0, 0.0, 1.0], 50), index=c.index)
        res = Backtester(cost_bps=0).run(pos, prices=c)
        np.testing.assert_array_equal(res.positions.to_numpy()[1:], pos.to_numpy()[:-1])
        np.testing.assert_allclose(res.gross_returns.to_numpy()[1:], pos.to_numpy()[:-1] * c.pct_change().to_numpy()[1:], rtol=0, atol=1e-15)

    def test_first_day_flat(self):
        c = rw_close(20)
        res = Backtester(cost_bps=10).run(pd.Series(1.0, index=c.index), prices=c)
        assert res.positions.iloc[0] == 0 and res.gross_returns.iloc[0] == 0      # nothing is held on the first day
        assert res.costs.iloc[0] == pytest.approx(1e-3) and res.returns.iloc[0] == pytest.approx(-1e-3)   # the entry trade at its close
        assert res.positions.iloc[1] == 1 and res.costs.iloc[1:].sum() == 0

    def test_costs_on_turnover(self):
        c = rw_close(8)
        pos = pd.Series([1, 1, -1, -1, 0, 0.5, 0.5, 0.5], index=c.index, dtype=float)
        res = Backtester(cost_bps=3, slippage_bps=2).run(pos, prices=c)
        trades = np.abs(np.diff(pos.to_numpy(), prepend=0))
        np.testing.assert_allclose(res.turnover.to_numpy(), trades)
        np.testing.assert_allclose(res.costs.to_numpy(), 5e-4 * trades)
        np.testing.assert_allclose(res.returns, res.gross_returns - res.costs)
        assert res.costs.iloc[1] == 0 and res.costs.iloc[2] == pytest.approx(1e-3)     # 1 -> -1 costs two units, at the decision bar

    def test_perfect_foresight_only_profitable_without_lag(self):
        c = rw_close(5000)
        peek = np.sign(c.pct_change()).fillna(0.0)           # knows the bar's own return
        lagged = Backtester(cost_bps=0).run(peek, prices=c).metrics().iloc[:, 0]
        cheat = Backtester(cost_bps=0, apply_position_lag=False).run(peek, prices=c).metrics().iloc[:, 0]
        assert cheat['sharpe'] > 10 and cheat['win rate'] > 0.99
        assert abs(lagged['sharpe']) < 0.8                     # ~3.5 standard errors of an annual Sharpe over 20 years

    def test_equity_equals_independent_reference(self):
        c = rw_close(300, seed=9)
        pos = pd.Series(np.random.default_rng(3).uniform(-1.5, 1.5, 300), index=c.index)
        res = Backtester(cost_bps=7, slippage_bps=1).run(pos, prices=c)
        eq, out = 1.0, []
        closes = c.to_list(); p = pos.to_list()
        for t in range(len(closes)):                            # plain-Python reference, bar by bar
            held = p[t - 1] if t > 0 else 0.0                   # decided at the previous close
            r = closes[t] / closes[t - 1] - 1 if t > 0 else 0.0
            traded = abs(p[t] - (p[t - 1] if t > 0 else 0.0))   # trade made at this close
            eq *= 1 + held * r - 8e-4 * traded
            out.append(eq)
        np.testing.assert_allclose(res.equity.to_numpy(), out, rtol=1e-12)

    def test_returns_input_matches_prices_input(self):
        c = rw_close(200)
        pos = positions_from_predictions(pd.Series(np.random.default_rng(2).normal(size=200), index=c.index))
        a = Backtester().run(pos, prices=c); b = Backtester().run(pos, returns=c.pct_change().fillna(0.0))
        pd.testing.assert_series_equal(a.returns, b.returns)

    def test_misaligned_or_missing_inputs_refused(self):
        c = rw_close(30)
        with pytest.raises(DataError, match='without a price/return'): Backtester().run(pd.Series(1.0, index=c.index + pd.Timedelta(days=1)), prices=c)
        with pytest.raises(DataError, match='NaN/inf'): Backtester().run(pd.Series(np.nan, index=c.index), prices=c)


# ---------------------------------------------------------------- GBM training
from stocknb.features import make_dataset
from stocknb.gbm import GBMModel, train_gbm_baseline

@pytest.fixture(scope='module')
def gbm_data():
    ds = make_dataset(planted_signal_ohlcv(1400, phi=0.2, seed=4))
    return ds.X, ds.y

FAST = dict(n_estimators=150, early_stopping_rounds=20)

class TestGBMTrainingNoLeakage:
    def test_60_20_20_boundaries(self, gbm_data):
        X, y = gbm_data
        r = train_gbm_baseline(X, y, **FAST)
        blocks = r.predictions['block']
        n = len(X); nv, nt = (blocks == 'val').sum(), (blocks == 'test').sum()
        assert nt == n - round(0.8 * n) and abs(nv - 0.2 * n) <= 2
        assert r.model.n_train_ == n - nv - nt - 2              # two purge rows, one per boundary

    def test_temporal_order(self, gbm_data):
        X, y = gbm_data
        r = train_gbm_baseline(X, y, **FAST)
        p = r.predictions
        train_end = X.index[r.model.n_train_ - 1]
        assert train_end < p.index[p.block == 'val'].min() and p.index[p.block == 'val'].max() < p.index[p.block == 'test'].min()

    def test_validation_used_only_for_early_stopping(self, gbm_data):
        X, y = gbm_data
        n = len(X); a, b = int(.6 * n), int(.8 * n)
        es = GBMModel('xgb', **FAST).fit(X.iloc[:a], y.iloc[:a], X.iloc[a + 1:b], y.iloc[a + 1:b])
        plain = GBMModel('xgb', n_estimators=es.best_iteration_).fit(X.iloc[:a], y.iloc[:a])
        np.testing.assert_array_equal(es.predict(X.iloc[b:]), plain.predict(X.iloc[b:]))   # same trees: val chose only their number

    def test_test_block_untouched_until_scoring(self, gbm_data):
        X, y = gbm_data
        r1 = train_gbm_baseline(X, y, **FAST)
        cut = round(0.8 * len(X))
        X2, y2 = X.copy(), y.copy()
        X2.iloc[cut:] = np.random.default_rng(0).normal(size=X2.iloc[cut:].shape); y2.iloc[cut:] = -y2.iloc[cut:]
        r2 = train_gbm_baseline(X2, y2, **FAST)
        assert r1.n_trees == r2.n_trees and r1.model.calibrator_.offset_ == r2.model.calibrator_.offset_
        v = r1.predictions.block == 'val'
        np.testing.assert_array_equal(r1.predictions.pred[v], r2.predictions.pred[v])
        np.testing.assert_array_equal(r1.model.predict(X.iloc[:cut]), r2.model.predict(X.iloc[:cut]))
        assert r1.test.direction_accuracy != r2.test.direction_accuracy     # only the score changed

    def test_production_mode_uses_no_held_out_metrics(self, gbm_data):
        X, y = gbm_data
        r = train_gbm_baseline(X, y, train_on_full_data=True, **FAST)
        assert r.test is None and r.test_calibrated is None and not r.wfe.defined
        assert 'no held-out test block' in r.wfe.reason and set(r.predictions.block) == {'early-stopping'}
        assert r.model.n_train_ == len(X)
        assert 'test (raw)' not in r.to_frame().columns

    def test_production_tree_count_scaled_from_early_stopping(self, gbm_data):
        X, y = gbm_data
        r = train_gbm_baseline(X, y, train_on_full_data=True, **FAST)
        k = round(0.8 * len(X))
        es = GBMModel('xgb', calibration='median', **FAST).fit(X.iloc[:k], y.iloc[:k], X.iloc[k + 1:], y.iloc[k + 1:])
        assert r.n_trees == int(np.ceil(es.best_iteration_ * len(X) / k))


# ---- forward simulation: the model and the features see only the data before each day ----
from stocknb.features import build_features, make_target
from stocknb.forward_sim import ForwardSimulator, batch_predictions

FS_FEATURES = ['ret_1d', 'ret_1d_lag1', 'ret_1d_lag2', 'mom_5d', 'rsi_14', 'vol_cc_20', 'bb_pos_20', 'dist_sma_50', 'macd_hist_12_26', 'autocorr_20']
FS_FIT_END, FS_START, FS_STEPS = 600, 620, 30       # rows: the fixed model trains before FS_FIT_END; the simulation starts at row FS_START

@pytest.fixture(scope='module')
def fs_data():
    "A planted AR(1) series: 269 warm-up rows, a training block, then the simulated days."
    return planted_signal_ohlcv(720, phi=0.2, seed=11)

def fs_fit(model, X, y):
    "Fit on the first 80 % with the last 20 % (after a one-row purge) for early stopping."
    k = int(len(X) * 0.8)
    return model.fit(X.iloc[:k - 1], y.iloc[:k - 1], X.iloc[k:], y.iloc[k:])

@pytest.fixture(scope='module')
def fs_ridge(fs_data):
    ds = make_dataset(fs_data.iloc[:FS_FIT_END], features=FS_FEATURES)
    return fs_fit(RidgeModel(alpha=10.0), ds.X, ds.y)

def fs_period(df, n=FS_STEPS): return df.index[FS_START], df.index[FS_START + n - 1]

def next_return_leak(df):
    "Causal features plus tomorrow's return (NaN on the newest row of every cut)."
    F = build_features(df)[FS_FEATURES]
    F['next_ret'] = df['Close'].shift(-1) / df['Close'] - 1
    return F

def centred_mean_leak(df):
    "Causal features plus a centred 5-day mean of log returns (reads two days ahead; never NaN)."
    F = build_features(df)[FS_FEATURES]
    F['centred_mean_5'] = np.log(df['Close']).diff().rolling(5, center=True, min_periods=1).mean()
    return F

class TestForwardSimulationNoLookAhead:
    def test_model_and_features_never_see_the_day_they_trade(self, fs_data, fs_ridge):
        df = fs_data
        seen_features, seen_predict = [], []
        def spy_features(d):
            seen_features.append(d.index.max())
            F = build_features(d)
            d.loc[:, 'Close'] = np.nan                 # vandalize the frame it was handed: must not reach later steps
            return F
        class SpyModel:
            def predict(self, X):
                seen_predict.append((X.index.min(), X.index.max(), len(X)))
                return fs_ridge.predict(X)
        s, e = fs_period(df)
        res = ForwardSimulator(SpyModel(), feature_fn=spy_features, features=FS_FEATURES).run(df, start=s, end=e, progress=False)
        assert len(res) == len(seen_features) == len(seen_predict) == FS_STEPS
        for step, f, (pmin, pmax, n) in zip(res, seen_features, seen_predict):
            T, prev = step.date, df.index[df.index.get_loc(step.date) - 1]
            assert f < T and pmax < T                  # nothing at or after T
            assert f == pmax == pmin == step.decision_date == prev and n == 1    # exactly the last row before T
        np.testing.assert_allclose(res.to_frame().realized_return, df['Close'].pct_change().loc[s:e], rtol=0, atol=1e-15)
        plain = ForwardSimulator(fs_ridge, features=FS_FEATURES).run(df, start=s, end=e, progress=False)
        pd.testing.assert_series_equal(res.predictions, plain.predictions)      # the vandalism changed nothing

    @pytest.mark.parametrize('kind', ['ridge', 'lgbm'])
    def test_fixed_model_equals_batch_predictions(self, fs_data, kind):
        df = fs_data
        ds = make_dataset(df.iloc[:FS_FIT_END])                 # all 210 features
        model = fs_fit(RidgeModel(alpha=10.0) if kind == 'ridge' else GBMModel('lgbm', n_estimators=100), ds.X, ds.y)
        res = ForwardSimulator(model).run(df, start=fs_period(df)[0], end=fs_period(df)[1], progress=False)
        full = make_dataset(df).X
        batch = pd.Series(model.predict(full), index=full.index)
        rep = res.compare_with_batch(batch, tol=1e-9)
        assert rep.consistent and rep.n_compared == FS_STEPS and rep.n_mismatch == 0 and rep.max_abs_diff <= 1e-9, rep.reason
        assert rep.reason.startswith('consistent')
        helper = batch_predictions(model, df)
        np.testing.assert_array_equal(helper.loc[full.index].to_numpy(), batch.to_numpy())
        assert res.predictions.index.equals(full.index[FS_START - 1 - 269:FS_START - 1 - 269 + FS_STEPS])   # decision dates = X's rows

    @pytest.mark.parametrize('leak', [next_return_leak, centred_mean_leak], ids=['shift(-1)', 'centred-mean'])
    def test_leaky_feature_makes_predictions_differ_and_is_reported(self, fs_data, leak):
        df = fs_data
        cut = df.iloc[:FS_FIT_END]
        X, y = leak(cut).iloc[269:-1], make_target(cut).iloc[269:-1]
        X = X.fillna(0.0)                                       # batch training rows are complete
        model = fs_fit(RidgeModel(alpha=10.0), X, y)
        sim = ForwardSimulator(model, feature_fn=leak)
        res = sim.run(df, start=fs_period(df)[0], end=fs_period(df)[1], progress=False)
        batch = sim.batch_predict(df)
        rep = res.compare_with_batch(batch)
        assert not rep.consistent and rep.n_mismatch > FS_STEPS / 2 and rep.max_abs_diff > 1e-6
        assert rep.reason.startswith('INCONSISTENT') and 'look-ahead' in rep.reason
        assert rep.first_mismatch is not None and rep.first_mismatch >= res.predictions.index[0]
        if leak is next_return_leak:
            assert len(res.nan_features) == FS_STEPS and "['next_ret'] were NaN/inf" in rep.reason
        # what the batch would have claimed vs what was really available
        yb = make_target(df).loc[res.predictions.index]
        acc_batch = np.mean(np.sign(batch.loc[yb.index]) == np.sign(yb))
        assert acc_batch > res.direction_accuracy

    @pytest.mark.parametrize('horizon', [1, 3])
    def test_retraining_uses_only_rows_whose_targets_are_known(self, fs_data, horizon):
        df = fs_data
        fits, predicts = [], []
        class SpyRidge(RidgeModel):
            def fit(self, X_train, y_train, X_val=None, y_val=None):
                fits.append(dict(model=id(self), xt=X_train.index, yt=y_train.index, xv=X_val.index, yv=y_val.index, ytv=y_train.to_numpy()))
                return super().fit(X_train, y_train)
            def predict(self, X):
                predicts.append((id(self), X.index.max()))
                return super().predict(X)
        sim = ForwardSimulator(lambda: SpyRidge(alpha=10.0), retrain_every=7, horizon=horizon, features=FS_FEATURES, min_train_rows=200)
        res = sim.run(df, start=fs_period(df)[0], end=fs_period(df)[1], progress=False)
        assert len(fits) == len(res.retrain_dates) == 5 and res.retrain_dates == [res[k].date for k in (0, 7, 14, 21, 28)]
        target = make_target(df, horizon)
        for f, T in zip(fits, res.retrain_dates):
            iT = df.index.get_loc(T)
            assert f['xt'].equals(f['yt']) and f['xv'].equals(f['yv'])
            last_val = df.index.get_loc(f['xv'][-1])
            assert last_val + horizon == iT - 1                 # its target needs Close up to T−1, never Close[T]
            assert f['xv'][-1] < T and f['xt'][-1] < T
            assert df.index.get_loc(f['xv'][0]) - df.index.get_loc(f['xt'][-1]) == horizon + 1   # purge of h rows
            assert f['xt'][0] == df.index[269] and len(f['xv']) == round(0.2 * (len(f['xt']) + len(f['xv']) + horizon))
            np.testing.assert_array_equal(f['ytv'], target.loc[f['xt']].to_numpy())   # the true h-day targets, from past closes
        # each step predicts with the model fitted at the latest retraining day at or before it
        fit_ids = [f['model'] for f in fits]
        for k, (mid, xmax) in enumerate(predicts):
            assert mid == fit_ids[k // 7] and xmax == res[k].decision_date

    def test_positions_and_pnl_follow_the_lagged_backtester(self, fs_data, fs_ridge):
        df = fs_data
        bt = Backtester(cost_bps=10, slippage_bps=2)
        scaled = lambda p: positions_from_predictions(p, 'scaled', min_periods=5, max_leverage=1.5)
        s, e = fs_period(df)
        res = ForwardSimulator(fs_ridge, features=FS_FEATURES, position_fn=scaled, backtester=bt).run(df, start=s, end=e, progress=False)
        decided = scaled(res.predictions)                       # the same rule on all predictions at once: causal, so equal
        np.testing.assert_allclose(res.positions.to_numpy(), decided.to_numpy(), rtol=0, atol=1e-15)
        days = df.index[FS_START - 1:FS_START + FS_STEPS]       # first decision close … last trading day
        ref = bt.run(decided.reindex(days).ffill(), prices=df['Close'].loc[days])
        np.testing.assert_allclose(res.returns.to_numpy(), ref.returns.to_numpy(), rtol=0, atol=1e-15)
        pd.testing.assert_series_equal(res.backtest.positions, ref.positions)       # held = decided one bar earlier
        fr = res.to_frame()
        np.testing.assert_allclose(fr.cost, np.abs(np.diff(decided.to_numpy(), prepend=0.0)) * bt.cost_rate, rtol=0, atol=1e-15)
        np.testing.assert_allclose(fr.pnl, fr.position * fr.realized_return - fr.cost, rtol=0, atol=1e-15)
        assert abs(fr.pnl.sum() - ref.returns.sum()) < 1e-12
        assert res.metrics().loc['sharpe', 'forward simulation'] == ref.metrics().loc['sharpe', 'strategy']

    def test_cached_features_equal_truncation_and_refuse_leaks(self, fs_data, fs_ridge):
        df = fs_data
        s, e = fs_period(df)
        a = ForwardSimulator(fs_ridge, features=FS_FEATURES).run(df, start=s, end=e, progress=False)
        b = ForwardSimulator(fs_ridge, features=FS_FEATURES, cache_features=True, verify_every=10).run(df, start=s, end=e, progress=False)
        pd.testing.assert_frame_equal(a.to_frame().drop(columns='seconds'), b.to_frame().drop(columns='seconds'))
        with pytest.raises(LeakageError, match="cache_features=True is invalid for this feature_fn: feature 'centred_mean_5'"):
            ForwardSimulator(fs_ridge, feature_fn=centred_mean_leak, cache_features=True).run(df, start=s, end=e, progress=False)

    def test_bad_inputs_raise_data_error(self, fs_data, fs_ridge):
        df = fs_data
        sim = ForwardSimulator(fs_ridge, features=FS_FEATURES)
        cases = [
            (lambda: ForwardSimulator(object()), r"model must be a fitted model with predict\(X\) or a zero-argument factory .*; got object"),
            (lambda: ForwardSimulator(fs_ridge, retrain_every=5), r"retrain_every=5 needs a model factory"),
            (lambda: ForwardSimulator(RidgeModel, retrain_every=-1), r"retrain_every must be an integer ≥ 1; got -1"),
            (lambda: ForwardSimulator(fs_ridge, feature_fn='build_features'), r"feature_fn must be a callable"),
            (lambda: ForwardSimulator(fs_ridge, position_fn=1), r"position_fn must be a callable"),
            (lambda: ForwardSimulator(fs_ridge, backtester='5bps'), r"backtester must be a stocknb.backtest.Backtester; got str"),
            (lambda: ForwardSimulator(fs_ridge, horizon=1.5), r"horizon must be an integer ≥ 1; got 1.5 \(float\)"),
            (lambda: sim.run(df, start=df.index[100]), r"start=\S+ leaves 100 row\(s\) of history before it; need at least 270 .* earliest admissible start is"),
            (lambda: ForwardSimulator(RidgeModel).run(df, start=df.index[400]), r"leaves 400 row\(s\) .* need at least 522"),
            (lambda: sim.run(df, start='yesterday-ish'), r"start must be a date .*; got 'yesterday-ish'"),
            (lambda: sim.run(df, start=df.index[650], end=df.index[640]), r"end=\S+ is before start="),
            (lambda: sim.run(df, start='2100-01-01'), r"empty period: no trading day of df"),
            (lambda: sim.run(df.iloc[:250]), r"df has 250 rows; a forward simulation needs more than 270"),
            (lambda: sim.run(df.drop(columns='Volume')), r"column 'Volume' missing"),
            (lambda: ForwardSimulator(lambda: 'not a model').run(df, start=df.index[600], end=df.index[601]), r"the model factory returned str, which lacks fit and predict"),
            (lambda: ForwardSimulator(fs_ridge, feature_fn=lambda d: build_features(d).iloc[:-1]).run(df, start=df.index[600], end=df.index[601]),
             r"feature_fn returned rows up to \S+, but the last row it was given is"),
            (lambda: ForwardSimulator(fs_ridge, feature_fn=build_features, features=['nope']).run(df, start=df.index[600], end=df.index[601]), r"features \['nope'\] not among"),
            (lambda: sim.run(df, start=df.index[600], end=df.index[601]).compare_with_batch(np.zeros(2)), r"batch_predictions must be a Series indexed by decision date"),
        ]
        for f, msg in cases:
            with pytest.raises(DataError, match=msg): f()

# ---------------------------------------------------------------- end to end, through the pipeline
from stocknb.core import GateError, StateError
from stocknb.data import frame_hash
from stocknb.features import perturb_after, WARMUP
from stocknb.pipeline import ProductionPipeline, PipelineConfig, ProductionModel

FAST_PIPE = dict(models=('xgb',), model_params={'xgb': {'n_estimators': 300}})

@pytest.fixture(scope='module')
def planted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('models')
    df = planted_signal_ohlcv(2500, phi=0.25, seed=21)
    pipe = ProductionPipeline(PipelineConfig(symbol='PL', models_dir=str(root), **FAST_PIPE))
    rep = pipe.run_validation(data=df)
    pm = pipe.train_production(data=df)
    return df, pipe, rep, pm, root

class TestNoLeakageIntegration:
    def test_oof_predictions_unchanged_when_the_future_is_rewritten(self, planted_run):
        df, pipe, rep, _, _ = planted_run
        oof = rep.results['xgb'].oof
        cut = oof.index[len(oof) // 2]
        other = perturb_after(df, cut, how='plausible', seed=3)   # 'garbage' bars are refused as implausible by the pipeline
        assert len(other) == len(df) and not other.iloc[-10:].equals(df.iloc[-10:])
        rep2 = ProductionPipeline(PipelineConfig(symbol='PL2', **FAST_PIPE)).run_validation(data=other)
        a, b = oof.loc[:cut], rep2.results['xgb'].oof.loc[:cut]
        pd.testing.assert_series_equal(a, b)                      # every OOF prediction up to the cut, bit for bit
        assert not rep2.results['xgb'].oof.loc[cut:].iloc[1:].equals(oof.loc[cut:].iloc[1:])

    def test_manifest_records_the_data_trained_on(self, planted_run):
        df, _, _, pm, root = planted_run
        man = ProductionModel.load('PL', root).manifest
        assert man['data']['sha256'] == frame_hash(df)
        assert man['data']['training_last_date'] == f"{df.index[-2]:%Y-%m-%d}"    # the last row has no target yet
        assert man['data']['training_first_date'] == f"{df.index[WARMUP]:%Y-%m-%d}"

    def test_prediction_uses_only_bars_up_to_as_of(self, planted_run):
        df, pipe, _, pm, _ = planted_run
        k = len(df) - 40
        asof = df.index[k - 1]
        with pytest.raises(DataError, match="inside the model's training data"): pipe.predict(df.iloc[:k])
        r1 = pipe.predict(df.iloc[:k], allow_in_sample=True)                           # an in-sample day, marked as such
        r2 = pipe.predict(perturb_after(df, asof, how='garbage', seed=1).iloc[:k], allow_in_sample=True)
        assert r1.to_dict() == r2.to_dict() and r1.as_of == f"{asof:%Y-%m-%d}" and r1.in_sample
        from stocknb.features import make_dataset
        batch = pm.models['xgb'].predict(make_dataset(df).X.loc[[asof]])[0]
        assert r1.predicted_return == pytest.approx(batch, rel=0, abs=1e-12)

    def test_gate_refuses_placebo_and_writes_nothing(self, tmp_path):
        pipe = ProductionPipeline(PipelineConfig(symbol='RW', models_dir=str(tmp_path), **FAST_PIPE))
        rw = random_walk_ohlcv(2500, seed=5)
        with pytest.raises(StateError, match="RW: not validated yet"): pipe.train_production(data=rw)   # nothing runs silently
        pipe.run_validation(data=rw)
        with pytest.raises(GateError, match=r"RW: no model passed the validation gate \(xgb failed .*significance.*\), so nothing was trained"):
            pipe.train_production(data=rw)
        assert [p.name for p in tmp_path.iterdir()] == ['.stocknb']            # the validation history only
        assert not (tmp_path/'RW').exists()

    def test_skip_wfe_check_is_recorded_everywhere(self, tmp_path):
        df = random_walk_ohlcv(2500, seed=5)
        pipe = ProductionPipeline(PipelineConfig(symbol='RW', models_dir=str(tmp_path), skip_wfe_check=True, **FAST_PIPE))
        pipe.run_validation(data=df)
        pm = pipe.train_production(data=df)
        assert pm.manifest['gate_overridden'] is True and not pm.manifest['gate']['xgb']['passed']
        assert pm.manifest['gate_skipped_checks'] == ['wfe', 'significance', 'collapse', 'sign']
        assert ProductionModel.load('RW', tmp_path).manifest['gate_overridden'] is True
        r = ProductionPipeline(PipelineConfig(symbol='RW', models_dir=str(tmp_path))).predict(df)
        assert r.gate_overridden and 'GATE OVERRIDDEN' in str(r)

    def test_failed_save_leaves_previous_model_intact(self, planted_run, monkeypatch):
        df, _, _, pm, root = planted_run
        dest = root/'PL'
        before = {p.relative_to(dest): p.read_bytes() for p in dest.rglob('*') if p.is_file()}
        from dataclasses import replace
        from stocknb.registry import MODELS
        spec = MODELS['xgb']
        def broken(m, folder):
            spec.save(m, folder); raise OSError(5, 'I/O error')
        monkeypatch.setitem(MODELS, 'xgb', replace(spec, save=broken))
        from stocknb.core import ArtifactError
        with pytest.raises(ArtifactError, match='previous artifact, if any, is untouched'): pm.save(root)
        assert {p.relative_to(dest): p.read_bytes() for p in dest.rglob('*') if p.is_file()} == before
        assert sorted(p.name for p in root.iterdir()) == ['.stocknb', 'PL']
        assert list((root/'.stocknb'/'tmp').iterdir()) == []


# --- sequence models (stocknb.sequence): windows, context, scaler, production -------------------------------

TINY = dict(lookback=8, units=4, epochs=2, batch_size=256, learning_rate=1e-3, patience=1, verbose=0)

@pytest.fixture(scope='module')
def seq_data():
    from stocknb.features import make_dataset
    ds = make_dataset(planted_signal_ohlcv(900, phi=0.2, seed=3))
    return ds.X, ds.y

def spy_factory(log:list):
    "Tiny SequenceModels that record what each fit and predict received."
    from stocknb.sequence import SequenceModel, sequence_factory
    base = sequence_factory('plain_lstm', **TINY)
    class Spy(SequenceModel):
        def fit(self, X_train, y_train, X_val=None, y_val=None):
            log.append({'X_train': X_train.index, 'y_train': y_train.copy(), 'X_val': X_val.index,
                        'y_val': y_val.copy(), 'model': self})
            return super().fit(X_train, y_train, X_val, y_val)
    return lambda: Spy(*base.args, **base.keywords)

@pytest.fixture(scope='module')
def spied(seq_data):
    "One walk-forward run of spied sequence models: its folds and what each fit received."
    X, y = seq_data
    log = []
    wf = WalkForwardValidator(n_splits=3)
    wf.validate(spy_factory(log), X, y, progress=False)
    return wf.folds(X), log

class TestSequenceNoLeakage:
    def test_training_windows_never_cross_a_block_boundary(self, seq_data, spied):
        X, y = seq_data
        for f, rec in zip(*spied):
            m = rec['model']
            assert rec['X_train'][-1] == X.index[f.train[-1]]                   # nothing after the training block
            assert m.train_rows_.max() == len(rec['X_train']) - 1
            first_target = X.index.get_loc(rec['X_train'][m.train_rows_.min()])
            assert first_target - (m.lookback - 1) >= X.index.get_loc(rec['X_train'][0])   # windows inside what it got
            assert rec['X_val'][-1] == X.index[f.val[-1]]                           # nothing after the val block
            assert rec['X_val'][0] == X.index[f.val[0] - m.context]                 # and only the context before it

    def test_context_carries_features_only(self, seq_data, spied):
        X, y = seq_data
        for f, rec in zip(*spied):
            c = rec['model'].context
            assert c == TINY['lookback'] - 1
            assert rec['X_val'][0] == X.index[f.val[0] - c]                        # c feature rows before the block
            assert rec['y_val'].iloc[:c].isna().all()                              # … whose labels never travel
            np.testing.assert_array_equal(rec['y_val'].iloc[c:].to_numpy(), y.iloc[f.val].to_numpy())
            assert rec['y_train'].notna().all()                                    # anchored: no context before row 0

    def test_scaler_fitted_on_labelled_training_rows_only(self, seq_data, spied):
        X, y = seq_data
        for rec in spied[1]:
            m, yt = rec['model'], rec['y_train'].to_numpy()
            rows = m.scaler_.fit_rows_
            assert rows.max() < len(yt) and np.isfinite(yt[rows]).all()
            med = np.median(X.loc[rec['X_train']].to_numpy()[rows], axis=0)
            np.testing.assert_allclose(m.scaler_.scaler_.center_, med)             # the statistics of those rows

    def test_every_test_row_predicted_and_oof_unchanged_when_the_future_is_rewritten(self, seq_data):
        from stocknb.sequence import sequence_factory
        X, y = seq_data
        wf = WalkForwardValidator(n_splits=4)
        fac = sequence_factory('plain_lstm', **TINY)
        base = wf.validate(fac, X, y, progress=False)
        assert base.n_nan_pred == 0 and base.oof.notna().all()
        cut = wf.folds(X)[2].test[10]                                              # inside the third test block
        rng = np.random.default_rng(0)
        Xg, yg = X.copy(), y.copy()
        Xg.iloc[cut + 1:] = rng.normal(0, 5, Xg.iloc[cut + 1:].shape)
        yg.iloc[cut + 1:] = rng.normal(0, 0.05, len(yg) - cut - 1)
        again = wf.validate(fac, Xg, yg, progress=False)
        upto = base.oof.index <= X.index[cut]
        np.testing.assert_array_equal(again.oof[upto].to_numpy(), base.oof[upto].to_numpy())

    def test_production_training_uses_no_row_after_the_data_end(self, seq_data):
        from stocknb.sequence import sequence_factory, train_sequence_production
        X, y = seq_data
        k = len(X) - 100
        m, notes = train_sequence_production(sequence_factory('plain_lstm', **TINY), X.iloc[:k], y.iloc[:k])
        assert m.train_rows_[-1] == k - 1 and m.scaler_.fit_rows_.max() == k - 1
        m2, _ = train_sequence_production(sequence_factory('plain_lstm', **TINY), X.iloc[:k], y.iloc[:k])
        Xg = X.copy(); Xg.iloc[k:] = 99.0                                           # later rows: garbage …
        np.testing.assert_array_equal(m.predict(X.iloc[k - 20:k]), m2.predict(Xg.iloc[k - 20:k]))   # … unread

    def test_validator_refuses_a_negative_context(self, seq_data):
        X, y = seq_data
        class Bad(RidgeModel): context = -2
        with pytest.raises(DataError, match='Bad.context must be an integer ≥ 0; got -2'):
            WalkForwardValidator(n_splits=3).validate(Bad, X, y, progress=False)

class TestDenoisingCausality:
    def test_causal_denoiser_passes_and_offline_fails_check_causal(self):
        from stocknb.features import check_causal
        from stocknb.xlstm_ts import WaveletDenoising, offline_wavelet_denoise
        df = planted_signal_ohlcv(600, phi=0.0, seed=8)
        def causal(d): return WaveletDenoising(level=1, window=32).transform(np.log(d[['Close', 'Volume']] + 1))
        def offline(d): return offline_wavelet_denoise(np.log(d['Close']), level=1)
        rep = check_causal(causal, df, cuts=4)
        assert (rep['max_abs_diff'] == 0).all()
        with pytest.raises(LeakageError):
            check_causal(offline, df, cuts=4)

    def test_denoised_model_reads_its_window_and_the_denoiser_window_as_context(self):
        from stocknb.xlstm_ts import WaveletDenoising
        from stocknb.sequence import SequenceModel
        m = SequenceModel('plain_lstm', lookback=10, denoise=WaveletDenoising(window=32))
        assert m.context == 9 + 31

# ---------------------------------------------------------------------------------------------------------------
# Stacking: the meta-learner, its regimes and its confidence see out-of-fold rows only, and the past only.
from stocknb.stacking import (StackingEnsembleTrainer, StackMeta, RegimeDetector, REGIME_INPUTS, ConfidenceCalibrator)
from stocknb.features import make_dataset, perturb_after
from stocknb.gbm import gbm_factory, GBMModel

def stack_bases():
    return {'ridge': lambda: RidgeModel(alpha=10.0), 'xgb': gbm_factory('xgb', n_estimators=60, calibration='median')}

def stack_trainer(): return StackingEnsembleTrainer(stack_bases(), n_splits=4, meta_splits=4, purge=2)

@pytest.fixture(scope='module')
def stacked():
    df = planted_signal_ohlcv(2200, phi=0.2, seed=4)
    ds = make_dataset(df)
    return df, ds, stack_trainer().validate(df, ds.X, ds.y, progress=False)

class TestStackingNoLeakage:
    def test_meta_training_rows_are_out_of_fold_for_every_base(self, stacked):
        "Each meta training row's base prediction comes from a base fold fitted on rows ending > purge rows earlier."
        df, ds, sv = stacked
        pos = {d: i for i, d in enumerate(ds.X.index)}          # row positions in X
        made_by = {}                                             # OOF date -> last row any base fitted on for it
        for name, r in sv.results.items():
            for fr in r.folds:
                last_fit = max(fr.fold.train.max(), fr.fold.val.max() if len(fr.fold.val) else -1)
                for t in fr.fold.test: made_by[(name, t)] = last_fit
        M = sv.inputs
        for fr in sv.stack.folds:
            for i in np.concatenate([fr.fold.train, fr.fold.val]):
                t = pos[M.index[i]]
                for name in sv.used: assert made_by[(name, t)] + 2 < t, (name, M.index[i])
        assert M.index.equals(sv.results['ridge'].oof.index)     # meta rows are exactly the OOF rows

    def test_meta_walk_forward_is_nested_and_purged(self, stacked):
        df, ds, sv = stacked
        for fr in sv.stack.folds:
            f = fr.fold
            assert f.train.max() + 2 < f.val.min() and f.val.max() + 2 < f.test.min()
        assert sv.stack.oof.index.min() > sv.inputs.index[sv.stack.folds[0].fold.train.max()]

    def test_regime_thresholds_come_from_training_rows(self, monkeypatch):
        "Every regime fit inside the nested walk-forward sees only the meta training rows of its fold."
        df = planted_signal_ohlcv(1800, phi=0.2, seed=6); ds = make_dataset(df)
        seen, fit = [], RegimeDetector.fit
        def spy(self, data):
            seen.append(data.index); return fit(self, data)
        monkeypatch.setattr(RegimeDetector, 'fit', spy)
        sv = StackingEnsembleTrainer({'ridge': lambda: RidgeModel(alpha=10.0)}, n_splits=4, meta_splits=4,
                                     purge=2).validate(df, ds.X, ds.y, progress=False)
        trains = [sv.inputs.index[fr.fold.train] for fr in sv.stack.folds]
        assert len(seen) == len(trains)
        for got, want in zip(seen, trains): assert got.equals(want)
        # and the thresholds of a fit cannot move when everything after its rows is rewritten
        M = sv.inputs; cut = trains[1][-1]
        M2 = M.copy(); M2.loc[M2.index > cut, list(REGIME_INPUTS)] *= 3.0
        a, b = RegimeDetector().fit(M.loc[:cut]), RegimeDetector().fit(M2.loc[:cut])
        assert np.array_equal(a.vol_edges_, b.vol_edges_) and a.adx_threshold_ == b.adx_threshold_

    def test_stacked_oof_unchanged_when_the_future_is_rewritten(self, stacked):
        df, ds, sv = stacked
        oof = sv.stack.oof
        cut = oof.index[len(oof) // 2]
        df2 = perturb_after(df, cut, 'plausible', seed=3)
        assert not df2.loc[df2.index > cut].equals(df.loc[df.index > cut])
        ds2 = make_dataset(df2)
        sv2 = stack_trainer().validate(df2, ds2.X, ds2.y, progress=False)
        a, b = oof.loc[:cut], sv2.stack.oof.loc[:cut]
        assert a.index.equals(b.index) and np.allclose(a, b, rtol=0, atol=1e-12)
        ca, cb = sv.confidence.loc[:cut, 'confidence'], sv2.confidence.loc[:cut, 'confidence']
        assert len(ca) > 0 and np.allclose(ca, cb, rtol=0, atol=1e-12)
        assert not np.allclose(oof.loc[cut:].iloc[5:], sv2.stack.oof.loc[cut:].iloc[5:])   # the probe did bite

    def test_confidence_calibrator_sees_oof_rows_only(self, stacked):
        df, ds, sv = stacked
        sp = stack_trainer().fit_production(ds.X, ds.y, sv)
        fit = sp.meta.confidence_.fit_index_
        calls = (sv.stack.oof != 0) & (sv.stack.y != 0)
        same = calls & (sv.stack_trees == sp.meta.gate_['trees'])   # predicted the way production predicts
        assert fit.equals(sv.stack.oof.index[same if same.sum() >= 50 else calls])
        C = sv.confidence                                        # validation: fitted on earlier stack OOF days only
        assert len(C) > 0 and (C['fit_last'] < C.index).all() and C['fit_last'].isin(sv.stack.oof.index).all()
        pos = {d: i for i, d in enumerate(sv.stack.oof.index)}
        assert all(pos[f] + 2 < pos[t] for f, t in zip(C['fit_last'], C.index))

    def test_confidence_settings_are_the_ones_used_and_saved(self, stacked, tmp_path):
        "The trainer's calibrator settings reach the OOS check, production and the saved stack.json unchanged."
        from stocknb.stacking import daily_sigma, StackMeta
        df, ds, sv = stacked
        cfg = {'half_life': 250.0, 'level_prior': 10.0, 'slope_prior': 0.0}
        tr = StackingEnsembleTrainer(stack_bases(), n_splits=4, meta_splits=4, purge=2, confidence=cfg)
        assert tr.config()['confidence'] == cfg
        C = tr.recalibrate(sv)
        assert C.index.equals(sv.confidence.index) and not np.allclose(C.confidence, sv.confidence.confidence)
        sp = tr.fit_production(ds.X, ds.y, sv)
        cal = sp.meta.confidence_
        assert {k: getattr(cal, k) for k in cfg} == cfg
        i = cal.fit_index_
        ref = ConfidenceCalibrator(**cfg).fit(sv.stack.oof.loc[i], sv.stack.y.loc[i], daily_sigma(sv.inputs.loc[i]))
        assert (cal.a_, cal.b_) == (ref.a_, ref.b_)
        back = StackMeta.load(sp.meta.save(tmp_path/'meta')).confidence_
        assert back.to_dict() == cal.to_dict() and {k: getattr(back, k) for k in cfg} == cfg

    def test_trees_are_tested_on_the_fold_validation_block_only(self, stacked, monkeypatch):
        "Each meta fold's sign test sees exactly that fold's validation rows, which end before its test rows."
        df, ds, sv = stacked
        seen, gate = [], StackMeta._gate
        def spy(self, Mv, yv):
            seen.append(Mv.index); return gate(self, Mv, yv)
        monkeypatch.setattr(StackMeta, '_gate', spy)
        sv2 = stack_trainer().validate(df, ds.X, ds.y, base_results=sv.results, progress=False)
        vals = [sv2.inputs.index[fr.fold.val] for fr in sv2.stack.folds]
        assert len(seen) == len(vals) == len(sv2.meta_tests)
        for got, want, fr in zip(seen, vals, sv2.stack.folds):
            assert got.equals(want) and got.max() < sv2.inputs.index[fr.fold.test].min()

    def test_production_meta_never_sees_a_row_after_the_data_end(self, stacked, monkeypatch):
        df, ds, sv = stacked
        seen, fit, train = [], GBMModel.fit, StackMeta._train
        def spy(self, X_train, y_train, X_val=None, y_val=None):
            seen.append(max(X_train.index.max(), X_val.index.max() if X_val is not None else X_train.index.min()))
            return fit(self, X_train, y_train, X_val, y_val)
        def spy_meta(self, F, l, t, rounds, val=None):
            seen.append(max(F.index.max(), val[0].index.max() if val is not None else F.index.min()))
            meta_seen.append(seen[-1]); return train(self, F, l, t, rounds, val)
        meta_seen = []
        monkeypatch.setattr(GBMModel, 'fit', spy)
        monkeypatch.setattr(StackMeta, '_train', spy_meta)
        sp = stack_trainer().fit_production(ds.X, ds.y, sv)
        end = ds.X.index[-1]                                     # the last day with a known label
        assert end < df.index[-1] and len(meta_seen) == 2 and max(seen) <= end
        assert sp.meta.fit_last_ == f"{end:%Y-%m-%d}" and sp.meta.sizing_['fit_last'] <= f"{end:%Y-%m-%d}"
        assert sp.meta.fit_rows_ == len(sv.inputs) and sv.inputs.index.max() <= end
