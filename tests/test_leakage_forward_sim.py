"""No leakage, forward simulation: the model and the features see only the data before each day."""
import numpy as np, pandas as pd, pytest
from stocknb.core import DataError, LeakageError
from stocknb.data import planted_signal_ohlcv
from stocknb.walk_forward import RidgeModel
from stocknb.backtest import positions_from_predictions
from stocknb.features import make_dataset
from stocknb.gbm import GBMModel
from stocknb.backtest import Backtester

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
