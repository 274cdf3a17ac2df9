"""One walk-forward fold of the pipeline's sequence models (their registry presets) on a planted AR(1), on the
device the Keras backend sees: seconds, epochs, test accuracy, NaN count and the dtype policy used.

    KERAS_BACKEND=jax python bench/device_fold.py                  # last of 5 folds, 8,000 days, mixed precision on
    python bench/device_fold.py --quick --mixed off                # tiny and fast: checks the script runs

With `--mixed on` a fit on a GPU trains under 'mixed_float16'; without a GPU it warns and stays float32
(`SequenceModel.mixed_precision`). Run it on CPU and on a GPU and compare the seconds of the same fold."""
import argparse, os, sys, time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))      # this checkout's stocknb
import numpy as np

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', nargs='+', default=['lstm', 'xlstm'], choices=['lstm', 'xlstm'])
    p.add_argument('--n', type=int, default=8000, help='days of planted data (default 8000)')
    p.add_argument('--fold', type=int, default=-1, help='which of the 5 folds (default -1: the last)')
    p.add_argument('--mixed', default='on', choices=['auto', 'on', 'off'], help='mixed precision (default on)')
    p.add_argument('--quick', action='store_true', help='2,000 days and at most 3 epochs')
    a = p.parse_args()
    import keras
    from stocknb.data import planted_signal_ohlcv
    from stocknb.features import make_dataset
    from stocknb.config import PipelineConfig
    from stocknb.registry import MODELS
    from stocknb.sequence import has_gpu
    from stocknb.walk_forward import WalkForwardValidator, _run_fold
    ds = make_dataset(planted_signal_ohlcv(2000 if a.quick else a.n, phi=0.2, seed=0))
    fold = WalkForwardValidator(n_splits=5).folds(ds.X)[a.fold]
    print(f"keras {keras.__version__} ({keras.backend.backend()}), GPU visible: {has_gpu()}, mixed={a.mixed}; "
          f"{len(ds.X):,} rows, fold {a.fold}: train {len(fold.train)}, val {len(fold.val)}, test {len(fold.test)}")
    for m in a.models:
        kw = {'mixed_precision': a.mixed, 'verbose': 0, **({'epochs': 3} if a.quick else {})}
        made = []
        def factory(f=MODELS[m].factory(PipelineConfig(models=(m,), seed=0, model_params={m: kw}))):
            made.append(f()); return made[-1]
        t0 = time.perf_counter()
        r = _run_fold(factory, ds.X, ds.y, fold, score_train=False)
        s, model = time.perf_counter() - t0, made[-1]
        pt, yt = r['test'], ds.y.to_numpy()[fold.test]
        policy = model.model_.dtype_policy.name
        print(f"{m}: {s:.1f} s (fit {r['fit_seconds']:.1f} s), {len(model.history_)} epochs (best {model.epochs_}), "
              f"{s / len(model.history_):.2f} s/epoch; policy {policy}; test accuracy "
              f"{np.mean(np.sign(pt) == np.sign(yt)):.4f} on {len(yt)} rows; NaN predictions {int(np.isnan(pt).sum())}; "
              f"loss finite: {bool(np.isfinite(model.history_['loss']).all())}; notes {model.notes_}", flush=True)

if __name__ == '__main__': main()
