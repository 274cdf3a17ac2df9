"""No leakage in the panel (one model for many symbols): date folds, per-symbol features, cross-sectional features and
targets; a pooled sequence model's scalers (per fold) and windows (one symbol's rows, ending at the predicted date).
Production training on no row after the data's end: tests/test_panel.py."""
import numpy as np, pandas as pd, pytest
from stocknb.features import perturb_after
from stocknb.panel import cross_sectional_features, panel_dataset, panel_folds, planted_panel
from stocknb.panel_models import PanelConfig, panel_walk_forward
from stocknb.registry import MODELS

FOLDS = {
    'anchored': dict(n_splits=4),
    'anchored-embargo': dict(n_splits=3, purge=2, embargo=5, val_size=40, test_size=80),
    'rolling-lookback': dict(n_splits=3, mode='rolling', train_size=150, lookback=20, purge=1, embargo=2),
}

@pytest.fixture(scope='module')
def panel():
    "Six planted symbols, 900 days: their OHLCV frames and the panel dataset (close-only features)."
    frames = planted_panel(6, 900, beta=0.1, seed=3)
    return frames, panel_dataset(frames, min_symbols=4)

@pytest.fixture(scope='module')
def seq_fit(panel):
    "Fischer & Krauss's LSTM (20-day windows, 2 epochs) walked forward over the panel's 3 date folds, each fold's model kept."
    _, ds = panel
    cfg = PanelConfig(models=('fk_lstm',), min_symbols=4, model_params={'fk_lstm': {'lookback': 20, 'epochs': 2}})
    fac, kept = MODELS['fk_lstm'].panel_factory(cfg, quiet=True), []
    def keep():
        kept.append(fac()); return kept[-1]
    folds = panel_folds(ds, 3)
    return ds, folds, kept, panel_walk_forward(ds, keep, folds, 'fk_lstm')

def _same_before(a, b, cut, inclusive=True):
    "Rows of `a` and `b` dated at or before `cut` (before, with inclusive=False) are identical."
    sel = lambda x: x[x.index.get_level_values('date') <= cut] if inclusive else \
        x[x.index.get_level_values('date') < cut]
    pd.testing.assert_frame_equal(sel(a).to_frame() if isinstance(a, pd.Series) else sel(a),
                                  sel(b).to_frame() if isinstance(b, pd.Series) else sel(b))

class TestPanelNoLeakage:
    @pytest.mark.parametrize('name', FOLDS)
    def test_no_training_date_at_or_after_a_test_date_minus_the_purge(self, panel, name):
        _, ds = panel
        cfg = FOLDS[name]
        gap = cfg.get('purge', 1) + cfg.get('embargo', 0) + cfg.get('lookback', 1) - 1
        pos = {d: i for i, d in enumerate(ds.dates)}
        for f in panel_folds(ds, **cfg):
            last_train = pos[f.train[-1]]
            for block in (f.val, f.test):
                if len(block): assert pos[block[0]] - last_train - 1 >= gap, (name, f.k)
            if len(f.val): assert pos[f.test[0]] - pos[f.val[-1]] - 1 >= gap, (name, f.k)

    @pytest.mark.parametrize('name', FOLDS)
    def test_a_dates_rows_are_never_split_across_blocks(self, panel, name):
        _, ds = panel
        dates = ds.X.index.get_level_values('date')
        for f in panel_folds(ds, **FOLDS[name]):
            rows = {b: f.rows(ds.X.index, b) for b in ('train', 'val', 'test')}
            for b, r in rows.items():
                assert len(r) == int(dates.isin(dates[r].unique()).sum()), (name, f.k, b)   # all of a date, or none
            assert not (set(rows['train']) & set(rows['test'])) and not (set(rows['val']) & set(rows['test']))

    @pytest.mark.parametrize('sym', ['S00', 'S03', 'S05'])
    @pytest.mark.parametrize('how', ['plausible', 'garbage'])
    def test_rewriting_one_symbols_future_changes_no_earlier_row_of_any_symbol(self, panel, sym, how):
        frames, ds = panel
        cut = ds.dates[300]
        d2 = panel_dataset({**frames, sym: perturb_after(frames[sym], cut, how, seed=1)}, min_symbols=4)
        _same_before(ds.X, d2.X, cut)                               # features, cross-sectional ones included
        for a, b in ((ds.y, d2.y), (ds.y_rel, d2.y_rel), (ds.up, d2.up)):
            _same_before(a, b, cut, inclusive=False)                # y[t] looks at t+1: unchanged before the cut
        assert not ds.X.loc[ds.X.index.get_level_values('date') > cut].equals(
            d2.X.loc[d2.X.index.get_level_values('date') > cut])    # the probe did change something

    def test_a_symbol_that_stops_tomorrow_changes_no_cross_section_of_today(self, panel):
        "Which symbols make up a date's cross-section is decided by who has a bar that day, not by who has a target."
        frames, ds = panel
        cut = ds.dates[400]
        d2 = panel_dataset({**frames, 'S02': frames['S02'].loc[:cut]}, min_symbols=4)
        prev = ds.dates[399]                                        # S02's last target is the day before the cut
        _same_before(ds.X, d2.X, prev)
        _same_before(ds.y_rel, d2.y_rel, prev)
        today = lambda p: p.X.xs(cut, level='date')                # S02 has no target on the cut: not trained on,
        pd.testing.assert_frame_equal(today(ds).drop('S02'), today(d2))  # but still in the day's ranks
        assert ('S02' not in d2.X.loc[d2.X.index.get_level_values('date') > cut].index.get_level_values('symbol'))

    def test_cross_sectional_features_of_a_date_use_that_dates_values_only(self, panel):
        _, ds = panel
        X = ds.X[['ret_1', 'vol_20']]
        dates = ds.dates
        rng = np.random.default_rng(0)
        for d in dates[[0, 250, len(dates) - 1]]:
            X2 = X.copy()
            other = X2.index.get_level_values('date') != d
            X2.loc[other] = rng.normal(size=(int(other.sum()), 2))
            pd.testing.assert_frame_equal(cross_sectional_features(X, ['ret_1', 'vol_20']).xs(d, level='date'),
                                          cross_sectional_features(X2, ['ret_1', 'vol_20']).xs(d, level='date'))

    def test_closes_only_panel_is_causal_too(self, panel):
        frames, _ = panel
        closes = pd.DataFrame({s: f['Close'] for s, f in frames.items()})
        ds = panel_dataset(closes, min_symbols=4)
        cut = ds.dates[200]
        c2 = closes.copy(); c2.loc[c2.index > cut, 'S01'] *= np.linspace(0.5, 2.0, int((c2.index > cut).sum()))
        d2 = panel_dataset(c2, min_symbols=4)
        _same_before(ds.X, d2.X, cut)
        _same_before(ds.y_rel, d2.y_rel, cut, inclusive=False)

    def test_sequence_scalers_are_fitted_per_fold_on_that_folds_training_rows_only(self, seq_fit):
        ds, folds, kept, _ = seq_fit
        means = []
        for f, m in zip(folds, kept):
            x = ds.X['ret_1'].iloc[f.rows(ds.X.index, 'train')]
            assert m.scaler_.fit_rows_.size == len(x)                       # every training row, nothing else
            np.testing.assert_allclose(m.scaler_.scaler_.mean_, [x.mean()], rtol=1e-12)
            np.testing.assert_allclose(m.scaler_.scaler_.scale_, [x.std(ddof=0)], rtol=1e-12)
            means.append(float(m.scaler_.scaler_.mean_[0]))
        assert len(set(means)) == len(folds)                                # a scaler per fold, none shared

    def test_sequence_windows_end_at_the_predicted_date_and_hold_one_symbol(self, seq_fit):
        ds, folds, kept, res = seq_fit
        m, X = kept[-1], ds.X[['ret_1']]
        d, s = X.index.get_level_values('date'), X.index.get_level_values('symbol')
        p0 = pd.Series(m.predict(X), X.index)
        te = folds[-1].rows(X.index, 'test')
        pd.testing.assert_series_equal(res.oof.loc[X.index[te]], p0.iloc[te], check_names=False)   # context: as if
        cut = ds.dates[500]                                                                         # the whole past
        Xg = X.copy(); Xg.loc[d > cut] = np.random.default_rng(0).normal(0, 1, (int((d > cut).sum()), 1))
        p1 = pd.Series(m.predict(Xg), X.index)
        pd.testing.assert_series_equal(p1[d <= cut], p0[d <= cut])            # nothing after a date reaches it
        Xh = X.copy(); Xh.loc[(cut, 'S02'), 'ret_1'] += 0.05
        p2 = pd.Series(m.predict(Xh), X.index)
        moved = p2.ne(p0) & p0.notna()
        assert moved.loc[(cut, 'S02')]                                        # the window includes its own date
        assert not moved[(s != 'S02') | (d < cut)].any()                      # and no other symbol's windows
