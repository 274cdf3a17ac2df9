"""How long the pipeline's own work takes, against a baseline revision in the same run.

    python bench/pipeline.py                  # this checkout only
    python bench/pipeline.py --baseline REV   # also REV (a git worktree in a temporary folder), and the ratios

Measures, on the bundled AAPL (3,270 bars): `run_validation` with XGBoost and LightGBM (5 folds), how many times
the bars are validated in full during it, and a forward simulation of 250 days with a fitted model (one feature build and
one prediction per day) and with a factory refitted every 63 days. Each figure is the best of `--repeat` runs."""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

def measure(repeat:int) -> dict:
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    import stocknb.data as data
    from stocknb.pipeline import ProductionPipeline, PipelineConfig
    from stocknb.registry import MODELS
    from stocknb.forward_sim import ForwardSimulator
    from stocknb.features import make_dataset
    calls = {'n': 0}
    real = data.validate_ohlcv
    already = getattr(data, 'is_validated', lambda df: False)            # older versions validate every time
    def counting(*a, **k):
        calls['n'] += not already(a[0] if a else k.get('df')); return real(*a, **k)
    mods = [m for m in list(sys.modules.values()) if getattr(m, '__name__', '').startswith('stocknb') and hasattr(m, 'validate_ohlcv')]
    out, best = {}, lambda f: min(_t(f) for _ in range(repeat))
    with tempfile.TemporaryDirectory() as d:
        cfg = PipelineConfig(symbol='AAPL', models_dir=d)
        df = ProductionPipeline(cfg).load_data()
        out['run_validation_s'] = best(lambda: ProductionPipeline(cfg).run_validation(progress=False))
        for m in mods: m.validate_ohlcv = counting
        ProductionPipeline(cfg).run_validation(progress=False)
        out['validations_per_run'] = calls['n']
        for m in mods: m.validate_ohlcv = real
        ds = make_dataset(df.iloc[:-250])
        model = MODELS['xgb'].factory(cfg)()
        n = len(ds.X); k = int(n * 0.8)
        model.fit(ds.X.iloc[:k], ds.y.iloc[:k], ds.X.iloc[k + 1:], ds.y.iloc[k + 1:])
        start = df.index[-250]
        out['forward_sim_fixed_250_s'] = best(lambda: ForwardSimulator(model).run(df, start=start, progress=False))
        out['forward_sim_refit63_250_s'] = best(lambda: ForwardSimulator(MODELS['xgb'].factory(cfg), retrain_every=63)
                                                .run(df, start=start, progress=False))
    return out

def _t(f):
    t0 = time.perf_counter(); f(); return time.perf_counter() - t0

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--baseline', help='a git revision to measure in the same run')
    p.add_argument('--repeat', type=int, default=2)
    p.add_argument('--json', action='store_true', help=argparse.SUPPRESS)     # the child's output
    a = p.parse_args()
    if a.json: print(json.dumps(measure(a.repeat))); sys.exit(0)
    here = Path(__file__).resolve().parent.parent
    runs = {}
    with tempfile.TemporaryDirectory() as d:
        todo = [('this checkout', here)]
        if a.baseline:
            subprocess.run(['git', '-C', str(here), 'worktree', 'add', '-q', '--detach', f'{d}/base', a.baseline], check=True)
            todo.insert(0, (f'baseline {a.baseline}', Path(d)/'base'))
        try:
            for name, root in todo:
                env = {**os.environ, 'PYTHONPATH': str(root)}
                r = subprocess.run([sys.executable, str(Path(__file__).resolve()), '--json', '--repeat', str(a.repeat)],
                                   capture_output=True, text=True, env=env, cwd=root)
                if r.returncode: sys.exit(f"{name} failed:\n{r.stderr[-3000:]}")
                runs[name] = json.loads(r.stdout.strip().splitlines()[-1])
        finally:
            if a.baseline: subprocess.run(['git', '-C', str(here), 'worktree', 'remove', '--force', f'{d}/base'])
    keys = list(next(iter(runs.values())))
    print(f"{'measure':<28}" + ''.join(f"{n:>22}" for n in runs) + (f"{'ratio (this / base)':>22}" if len(runs) == 2 else ''))
    for k in keys:
        v = [runs[n][k] for n in runs]
        fmt = (lambda x: f"{x:>22.2f}") if k.endswith('_s') else (lambda x: f"{x:>22}")
        print(f"{k:<28}" + ''.join(fmt(x) for x in v) + (f"{v[1] / v[0]:>22.2f}" if len(v) == 2 and v[0] else ''))
