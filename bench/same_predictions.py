"""Are the predictions of two versions of stocknb the same, bit for bit? For a refactor that must change no number.

For each series (AAPL, a random walk, the planted AR(1) series) one `ProductionPipeline` run validates every model
(xgb, lgbm, lstm, xlstm) and the stack, then trains production models on all rows (gate skipped: every model trains)
and predicts the last 15 days with each. The out-of-fold predictions of every model and the production predictions
(each base's and the stack's) are written to an .npz file, and two such files are compared.

    python bench/same_predictions.py --before 5337ec7            # worktree of that commit vs this tree, then compare
    python bench/same_predictions.py --dump OUT.npz [--small]     # this tree only (run with PYTHONPATH=TREE)
    python bench/same_predictions.py --compare A.npz B.npz

`--small` (the default for `--before`; `--full` to turn it off) shortens the series to 1,400 days and the sequence
models to 3 epochs, so both trees take minutes, not an hour. Exit code 0 when every array is identical."""
import argparse, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ('xgb', 'lgbm', 'lstm', 'xlstm')

def series(small:bool) -> dict:
    from stocknb.data import load_ohlcv, random_walk_ohlcv, planted_signal_ohlcv
    n = 1400 if small else 3000
    return {'AAPL': load_ohlcv('AAPL').iloc[-n:], 'random_walk': random_walk_ohlcv(n, seed=5),
            'planted': planted_signal_ohlcv(n, phi=0.2, seed=7)}

def dump(out:Path, small:bool):
    "Validate, train and predict every model on every series; save the arrays to `out`."
    import stocknb
    from stocknb.pipeline import PipelineConfig, ProductionPipeline
    print(f"stocknb from {Path(stocknb.__file__).parent}", flush=True)
    params = {m: {'epochs': 3} for m in ('lstm', 'xlstm')} if small else {}
    arrays, t0 = {}, time.perf_counter()
    for name, df in series(small).items():
        cfg = PipelineConfig(symbol='X', models=MODELS, stacking=True, skip_gate=True, model_params=params,
                             models_dir=tempfile.mkdtemp())
        p = ProductionPipeline(cfg)
        rep = p.run_validation(data=df, record=False, progress=False)
        for m, r in rep.results.items():
            arrays[f'{name}/oof/{m}'] = r.oof.to_numpy('float64')
            arrays[f'{name}/oof_index/{m}'] = r.oof.index.asi8
        p.train_production(data=df, save=False)
        for k in range(15, 0, -1):                      # the last 15 days, each from the bars up to it
            r = p.predict(df.iloc[:len(df) - k + 1], allow_in_sample=True)
            for m, v in r.per_model.items(): arrays.setdefault(f'{name}/production/{m}', []).append(v)
            arrays.setdefault(f'{name}/production/prediction', []).append(r.predicted_return)
            if r.confidence is not None: arrays.setdefault(f'{name}/production/confidence', []).append(r.confidence)
        print(f"{name}: {len(df)} bars, done at {time.perf_counter() - t0:.0f} s", flush=True)
    np.savez(out, **{k: np.asarray(v) for k, v in arrays.items()})

def compare(a:Path, b:Path) -> int:
    "Print each array's verdict; return the number that differ."
    A, B = np.load(a), np.load(b)
    bad = 0
    for k in sorted(set(A.files) | set(B.files)):
        if k not in A.files or k not in B.files:
            print(f"{k}: only in {'the first' if k in A.files else 'the second'}"); bad += 1; continue
        x, y = A[k], B[k]
        same = x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
        diff = '' if same or x.shape != y.shape else f", max |Δ| {np.nanmax(np.abs(x - y)):.3g}"
        print(f"{k}: {'identical' if same else 'DIFFERENT'} ({x.shape[0]} values{diff})"); bad += not same
    print(f"{len(set(A.files) | set(B.files)) - bad} identical, {bad} different")
    return bad

def run_tree(tree:Path, out:Path, small:bool):
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_WAIT_POLICY='PASSIVE', TF_CPP_MIN_LOG_LEVEL='3',
               PYTHONHASHSEED='0')
    cmd = [sys.executable, str(Path(__file__).resolve()), '--dump', str(out)] + (['--small'] if small else [])
    subprocess.run(cmd, env=env, cwd=tree, check=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--before', help='a commit: dump it (in a git worktree) and this tree, then compare')
    ap.add_argument('--dump', type=Path); ap.add_argument('--compare', nargs=2, type=Path)
    ap.add_argument('--small', action='store_true'); ap.add_argument('--full', action='store_true')
    ap.add_argument('--keep', type=Path, default=Path(tempfile.gettempdir()), help='where the .npz files go')
    a = ap.parse_args()
    if a.dump: return dump(a.dump, a.small)
    if a.compare: sys.exit(1 if compare(*a.compare) else 0)
    if not a.before: ap.error('give --before REV, --dump OUT or --compare A B')
    small = not a.full
    wt = Path(tempfile.mkdtemp()) / 'before'
    subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', str(wt), a.before], check=True)
    try:
        tag = 'small' if small else 'full'
        before, after = a.keep/f'before_{a.before}_{tag}.npz', a.keep/f'after_{tag}.npz'
        run_tree(wt, before, small); run_tree(ROOT, after, small)
        sys.exit(1 if compare(before, after) else 0)
    finally: subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force', str(wt)], check=False)

if __name__ == '__main__': main()
