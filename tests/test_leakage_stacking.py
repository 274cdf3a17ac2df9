"""No leakage, stacking: the meta-learner, regimes and calibration see only out-of-fold rows."""
import numpy as np, pytest
from stocknb.data import planted_signal_ohlcv
from stocknb.walk_forward import RidgeModel

# ---------------------------------------------------------------------------------------------------------------
# Stacking: the meta-learner, its regimes and its confidence see out-of-fold rows only, and the past only.
from stocknb.stacking import StackingEnsembleTrainer
from stocknb.meta import StackMeta, daily_sigma
from stocknb.regime import RegimeDetector, REGIME_INPUTS
from stocknb.calibration import ConfidenceCalibrator
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
