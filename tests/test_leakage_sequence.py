"""No leakage, sequence models: windows, context, scaler and production see no later row."""
import numpy as np, pytest
from stocknb.core import DataError, LeakageError
from stocknb.data import planted_signal_ohlcv
from stocknb.walk_forward import WalkForwardValidator, RidgeModel

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
