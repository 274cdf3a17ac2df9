"""No leakage, walk-forward folds and the three-way split: nothing of an evaluation block, or after it, is fitted on."""
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
