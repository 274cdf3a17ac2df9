"""No leakage, GBM training: early stopping and calibration see only their own blocks."""
import numpy as np, pytest
from stocknb.data import planted_signal_ohlcv

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
