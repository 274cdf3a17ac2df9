"""No leakage, end to end through the pipeline: the bars after a cut change nothing before it."""
import shutil
import pandas as pd, pytest
from stocknb.core import DataError

from stocknb.data import random_walk_ohlcv

# ---------------------------------------------------------------- end to end, through the pipeline
from stocknb.core import GateError, StateError
from stocknb.data import frame_hash
from stocknb.features import perturb_after, WARMUP
from stocknb.pipeline import ProductionPipeline, PipelineConfig, ProductionModel

FAST_PIPE = dict(models=('xgb',), model_params={'xgb': {'n_estimators': 300}})

@pytest.fixture(scope='module')
def planted_run(planted_xgb, tmp_path_factory):
    "The session's planted xgb run (conftest), its saved folder copied into a root this module may write to."
    root = tmp_path_factory.mktemp('models')
    shutil.copytree(planted_xgb.root/'PL', root/'PL')
    shutil.copytree(planted_xgb.root/'.stocknb', root/'.stocknb')
    return planted_xgb.df, planted_xgb.pipe, planted_xgb.rep, planted_xgb.pm, root

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
