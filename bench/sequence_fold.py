"""The walk-forward folds of each sequence model (the registry's `lstm` and `xlstm`, with their presets) on AAPL
and on the planted series, run with another commit's code (a git worktree) and with this checkout's, in the same
run: seconds per fold (the mean of the 5 folds, and the first fold alone, which pays for compiling), seconds per
epoch, the share of an epoch that is arithmetic, and the out-of-fold accuracy over every fold's test days.

    python bench/sequence_fold.py --before f281e93                 # the baseline commit, then this checkout
    python bench/sequence_fold.py --before HEAD --quick            # 1,500 planted days, 3 epochs: checks it runs
    python bench/sequence_fold.py --before f281e93 --fold -1       # the last fold alone, in a fresh process
    python bench/sequence_fold.py --before f281e93 --before-python ../tfvenv/bin/python   # before: TensorFlow's

The arithmetic share: one training batch's forward and backward pass, as one compiled graph timed alone (the
median of 20 runs after a warm-up), × the batches of an epoch, ÷ the measured seconds per epoch. What is left
of an epoch is framework overhead: tracing, per-step Python, the validation pass and the collapse watch.
Each side runs in its own process, one after the other, so they do not share the cores. This checkout's side runs
twice on one empty JAX compilation-cache folder: 'cold' (every program compiled, as a first run on a machine) and
then filled (every later run; the table's main column). The before side runs on TensorFlow, which stocknb no longer
installs: give --before-python an interpreter whose environment has it (e.g. a venv with `pip install tensorflow`
whose .pth file adds this one's site-packages)."""
import argparse, json, math, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

def _batch_seconds(m, reps:int=20) -> float:
    "Median seconds of one compiled forward + backward pass over one training batch of fitted `SequenceModel` m."
    import keras, numpy as np
    net, b = m.model_, m.batch_size
    x = np.random.default_rng(0).standard_normal((b, m.lookback, m.n_features_)).astype('float32')
    y = {k: np.zeros((b, 1), 'float32') for k in net.output}
    if keras.backend.backend() == 'jax':                 # one jitted gradient of the loss, as Keras' train step
        import jax
        state = [[v.value for v in vs] for vs in (net.trainable_variables, net.non_trainable_variables,
                                                  net.metrics_variables, net.optimizer.variables)]
        grad = jax.jit(jax.grad(lambda tv, ntv, mv, ov, x, y:
                                net.compute_loss_and_updates(tv, ntv, mv, x, y, None, True, ov)[0]))
        run = lambda: jax.block_until_ready(grad(*state, x, y))
    elif keras.backend.backend() == 'tensorflow':
        import tensorflow as tf
        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape: loss = net.compute_loss(x=x, y=y, y_pred=net(x, training=True))
            return tape.gradient(loss, net.trainable_variables)
        run = lambda: [g.numpy() for g in step(x, y) if g is not None]
    else: return float('nan')
    run()                                                          # compile and warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
    return statistics.median(times)

def _data(name:str, n:int, quick:bool):
    from stocknb.data import planted_signal_ohlcv
    from stocknb.features import make_dataset
    if name == 'planted': return make_dataset(planted_signal_ohlcv(1500 if quick else n, phi=0.2, seed=0))
    from stocknb.config import PipelineConfig
    from stocknb.pipeline import ProductionPipeline
    return make_dataset(ProductionPipeline(PipelineConfig(symbol=name.upper())).load_data())

def child(a):
    "Print one JSON line per (data, model): this process's stocknb on the folds asked for, one after another."
    import numpy as np, stocknb
    from stocknb.config import PipelineConfig
    from stocknb.registry import MODELS
    from stocknb.walk_forward import WalkForwardValidator, _run_fold
    for d in a.data:
        ds = _data(d, a.n, a.quick)
        folds = WalkForwardValidator(n_splits=5).folds(ds.X)
        folds = folds if a.fold is None else [folds[a.fold]]
        for m in a.models:
            kw = {'verbose': 0, **({'epochs': 3} if a.quick else {})}
            base, made = MODELS[m].factory(PipelineConfig(models=(m,), seed=0, model_params={m: kw})), []
            def factory(): made.append(base()); return made[-1]
            secs, fits, epochs, hits, n = [], 0.0, 0, 0, 0
            for fold in folds:
                t0 = time.perf_counter()
                r = _run_fold(factory, ds.X, ds.y, fold, score_train=False)
                secs.append(time.perf_counter() - t0); fits += r['fit_seconds']; epochs += len(made[-1].history_)
                p, t = r['test'], ds.y.to_numpy()[fold.test]
                ok = np.isfinite(p); hits += int(np.sum(np.sign(p[ok]) == np.sign(t[ok]))); n += int(ok.sum())
            model, acc = made[-1], hits / n
            arith = _batch_seconds(model) * math.ceil(model.n_train_ / model.batch_size)   # the last fold's size
            print(json.dumps({'data': d, 'model': m, 'rows': len(ds.X), 'folds': len(folds),
                              'fold_s': statistics.mean(secs), 'first_s': secs[0], 'epochs': epochs,
                              'epoch_s': fits / epochs, 'arith_share': arith / (fits / epochs),
                              'acc': acc, 'se': math.sqrt(acc * (1 - acc) / n), 'n_test': n,
                              'stocknb': str(Path(stocknb.__file__).parent.parent)}), flush=True)

def _side(tree:Path, a, backend:str='tensorflow', python:str=sys.executable, cache:str|None=None) -> list:
    "One side's rows: `tree`'s stocknb in a fresh process of `python` on Keras backend `backend`."
    args = [python, __file__, '--child', '--n', str(a.n), '--models', *a.models, '--data', *a.data] + \
           (['--quick'] if a.quick else []) + ([] if a.fold is None else ['--fold', str(a.fold)])
    env = os.environ | {'PYTHONPATH': str(tree), 'KERAS_BACKEND': backend}
    if cache: env['STOCKNB_CACHE_DIR'] = cache
    r = subprocess.run(args, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    if r.returncode or not rows: sys.exit(f"the run on {tree} failed:\n{r.stderr[-3000:]}")
    if any(Path(x['stocknb']) != tree for x in rows): sys.exit(f"{tree}: imported stocknb from {rows[0]['stocknb']}")
    return rows

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--before', default='HEAD', help='the commit to compare with (default HEAD)')
    p.add_argument('--models', nargs='+', default=['lstm', 'xlstm'], choices=['lstm', 'xlstm'])
    p.add_argument('--data', nargs='+', default=['aapl', 'planted'], help="'planted' or bundled symbols, e.g. aapl")
    p.add_argument('--n', type=int, default=3000, help='days of planted data (default 3000)')
    p.add_argument('--fold', type=int, default=None, help='one of the 5 folds alone (default: all, in turn)')
    p.add_argument('--quick', action='store_true', help='1,500 planted days, at most 3 epochs')
    p.add_argument('--backend', default='jax', choices=['tensorflow', 'jax'],
                   help="Keras backend of this checkout's side (default jax; the other side's: --before-backend)")
    p.add_argument('--before-backend', default='tensorflow', choices=['tensorflow', 'jax'],
                   help='Keras backend of the before side (default tensorflow: what stocknb ran on before 2026-12)')
    p.add_argument('--before-python', default=sys.executable,
                   help='the before side\'s interpreter: one with TensorFlow (stocknb no longer installs it)')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: return child(a)
    from _worktree import worktree       # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    with worktree(a.before) as (sha, wt), tempfile.TemporaryDirectory() as cache:
        before = _side(wt, a, a.before_backend, a.before_python)
        cold = _side(ROOT, a, a.backend, cache=cache)          # JAX: an empty compilation cache, as a first run
        after = _side(ROOT, a, a.backend, cache=cache)         # and the same folder, filled: every later run
    which = 'all 5 folds in turn' if a.fold is None else f'fold {a.fold} of 5 alone'
    print(f"before = {sha} on {a.before_backend}, after = this checkout on {a.backend}; {which}; {os.cpu_count()} "
          "cores; each pair: before, after (its compiled programs cached by an earlier run; 'cold': not)")
    print(f"{'data':<8}{'model':<6}{'s/fold':>16}{'cold':>7}{'1st fold s':>16}{'s/epoch':>16}{'epochs':>11}"
          f"{'arith %':>14}{'accuracy ± s.e.':>28}{'speed-up':>10}{'cold':>7}")
    for b, n, c in zip(before, after, cold):
        print(f"{b['data']:<8}{b['model']:<6}{b['fold_s']:>8.1f}{n['fold_s']:>8.1f}{c['fold_s']:>7.1f}"
              f"{b['first_s']:>8.1f}{n['first_s']:>8.1f}{b['epoch_s']:>8.2f}{n['epoch_s']:>8.2f}"
              f"{b['epochs']:>6}{n['epochs']:>5}{100 * b['arith_share']:>7.1f}{100 * n['arith_share']:>7.1f}"
              f"{b['acc']:>9.4f} ± {b['se']:.4f}{n['acc']:>8.4f} ± {n['se']:.4f}{b['fold_s'] / n['fold_s']:>9.2f}×"
              f"{b['fold_s'] / c['fold_s']:>6.2f}×")
        assert c['acc'] == n['acc'], (c, n)                    # the cache changes no number
    from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    for b, n in zip(before, after):      # issue 24's targets: ≥ 3× faster per fold, accuracy within one s.e.
        report('sequence_fold', f"{n['data']} {n['model']}: seconds per fold, before / after",
               b['fold_s'] / n['fold_s'], 3.0)
        report('sequence_fold', f"{n['data']} {n['model']}: |accuracy after − before| / s.e.",
               abs(n['acc'] - b['acc']) / b['se'], 1.0, 'lower', unit='')

if __name__ == '__main__': main()
