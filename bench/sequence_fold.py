"""One walk-forward fold of each sequence model (the registry's `lstm` and `xlstm`, with their presets) on AAPL
and on the planted series, run with another commit's code (a git worktree) and with this checkout's, in the same
run: seconds per fold, seconds per epoch, the share of an epoch that is arithmetic, and the fold's test accuracy.

    python bench/sequence_fold.py --before f281e93                 # the baseline commit, then this checkout
    python bench/sequence_fold.py --before HEAD --quick            # 1,500 planted days, 3 epochs: checks it runs

The arithmetic share: one training batch's forward and backward pass, as one compiled graph timed alone (the
median of 20 runs after a warm-up), × the batches of an epoch, ÷ the measured seconds per epoch. What is left
of an epoch is framework overhead: tracing, per-step Python, the validation pass and the collapse watch.
Each side runs in its own process, one after the other, so they do not share the cores."""
import argparse, json, math, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

def _batch_seconds(m, reps:int=20) -> float:
    "Median seconds of one compiled forward + backward pass over one training batch of fitted `SequenceModel` m."
    import keras, numpy as np
    if keras.backend.backend() != 'tensorflow': return float('nan')
    import tensorflow as tf
    net, b = m.model_, m.batch_size
    x = np.random.default_rng(0).standard_normal((b, m.lookback, m.n_features_)).astype('float32')
    y = {k: np.zeros((b, 1), 'float32') for k in net.output}
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape: loss = net.compute_loss(x=x, y=y, y_pred=net(x, training=True))
        return tape.gradient(loss, net.trainable_variables)
    step(x, y)                                                     # trace and warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); [g.numpy() for g in step(x, y) if g is not None]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)

def _data(name:str, n:int, quick:bool):
    from stocknb.data import planted_signal_ohlcv
    from stocknb.features import make_dataset
    if name == 'planted': return make_dataset(planted_signal_ohlcv(1500 if quick else n, phi=0.2, seed=0))
    from stocknb.config import PipelineConfig
    from stocknb.pipeline import ProductionPipeline
    return make_dataset(ProductionPipeline(PipelineConfig(symbol=name.upper())).load_data())

def child(a):
    "Print one JSON line per (data, model): this process's stocknb on one fold."
    import numpy as np, stocknb
    from stocknb.config import PipelineConfig
    from stocknb.registry import MODELS
    from stocknb.walk_forward import WalkForwardValidator, _run_fold
    for d in a.data:
        ds = _data(d, a.n, a.quick)
        fold = WalkForwardValidator(n_splits=5).folds(ds.X)[a.fold]
        for m in a.models:
            kw = {'verbose': 0, **({'epochs': 3} if a.quick else {})}
            base, made = MODELS[m].factory(PipelineConfig(models=(m,), seed=0, model_params={m: kw})), []
            def factory(): made.append(base()); return made[-1]
            t0 = time.perf_counter()
            r = _run_fold(factory, ds.X, ds.y, fold, score_train=False)
            s, model = time.perf_counter() - t0, made[-1]
            p, t = r['test'], ds.y.to_numpy()[fold.test]
            ok = np.isfinite(p); acc = float(np.mean(np.sign(p[ok]) == np.sign(t[ok])))
            ep = len(model.history_)
            arith = _batch_seconds(model) * math.ceil(model.n_train_ / model.batch_size)
            print(json.dumps({'data': d, 'model': m, 'rows': len(ds.X), 'fold_s': s, 'fit_s': r['fit_seconds'],
                              'epochs': ep, 'epoch_s': r['fit_seconds'] / ep,
                              'arith_share': arith * ep / r['fit_seconds'],
                              'acc': acc, 'se': math.sqrt(acc * (1 - acc) / ok.sum()), 'n_test': int(ok.sum()),
                              'stocknb': str(Path(stocknb.__file__).parent.parent)}), flush=True)

def _side(tree:Path, a) -> list:
    args = [sys.executable, __file__, '--child', '--fold', str(a.fold), '--n', str(a.n), '--models', *a.models,
            '--data', *a.data] + (['--quick'] if a.quick else [])
    env = os.environ | {'PYTHONPATH': str(tree)}
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
    p.add_argument('--fold', type=int, default=-1, help='which of the 5 folds (default -1: the last)')
    p.add_argument('--quick', action='store_true', help='1,500 planted days, at most 3 epochs')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: return child(a)
    sha = subprocess.run(['git', 'rev-parse', '--short', a.before], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    wt = Path(tempfile.mkdtemp(prefix=f'stocknb-{sha}-'))/'tree'
    subprocess.run(['git', 'worktree', 'add', '--detach', '-q', str(wt), sha], cwd=ROOT, check=True)
    try: before, after = _side(wt, a), _side(ROOT, a)
    finally: subprocess.run(['git', 'worktree', 'remove', '--force', str(wt)], cwd=ROOT, check=True)
    print(f"before = {sha}, after = this checkout; fold {a.fold} of 5; {os.cpu_count()} cores; "
          "each pair: before, after")
    print(f"{'data':<8}{'model':<6}{'fold s':>16}{'s/epoch':>16}{'epochs':>9}{'arith %':>14}{'accuracy ± s.e.':>28}"
          f"{'speed-up':>10}")
    for b, n in zip(before, after):
        print(f"{b['data']:<8}{b['model']:<6}{b['fold_s']:>8.1f}{n['fold_s']:>8.1f}"
              f"{b['epoch_s']:>8.2f}{n['epoch_s']:>8.2f}"
              f"{b['epochs']:>5}{n['epochs']:>4}{100 * b['arith_share']:>7.1f}{100 * n['arith_share']:>7.1f}"
              f"{b['acc']:>9.4f} ± {b['se']:.4f}{n['acc']:>8.4f} ± {n['se']:.4f}{b['fold_s'] / n['fold_s']:>9.2f}×")
    from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
    for b, n in zip(before, after):      # issue 24's targets: ≥ 3× faster per fold, accuracy within one s.e.
        report('sequence_fold', f"{n['data']} {n['model']}: fold seconds, before / after",
               b['fold_s'] / n['fold_s'], 3.0)
        report('sequence_fold', f"{n['data']} {n['model']}: |accuracy after − before| / s.e.",
               abs(n['acc'] - b['acc']) / b['se'], 1.0, 'lower', unit='')

if __name__ == '__main__': main()
