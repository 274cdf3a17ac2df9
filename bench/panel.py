"""Panel speed and memory (issue 25): one LightGBM for many symbols.

1. 20 symbols × 8,000 days (a planted panel), close-only features: building the panel and a 5-fold date walk-forward of
   LightGBM, judged per date (`validate_panel`), against the target of 2 minutes on 2 cores.
2. A synthetic 500 symbols × 5,000 days: the feature build (`panel_dataset`) and one LightGBM fit on the first fold's
   training dates, timed, with the peak resident memory of the process (each step in its own process, so that one
   peak is not hidden by another). With --big-days and --big-symbols the size can be pushed until it no longer fits.

Usage: python bench/panel.py [--quick] [--big-symbols 500] [--big-days 5000]"""
import argparse, json, os, resource, subprocess, sys, time
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`

_BIG = """
import json, resource, sys, time
from stocknb.panel import panel_dataset, panel_folds, planted_panel
from stocknb.registry import MODELS
from stocknb.panel_models import PanelConfig
n_sym, n_days, step = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter(); frames = planted_panel(n_sym, n_days, 0.05, seed=1); t_gen = time.perf_counter() - t0
t0 = time.perf_counter(); ds = panel_dataset(frames, min_symbols=5); t_build = time.perf_counter() - t0
out = {'rows': len(ds.X), 'features': ds.X.shape[1], 'generate_s': t_gen, 'build_s': t_build}
if step == 'fit':
    del frames
    cfg = PanelConfig(models=('lgbm',), n_jobs=2)
    f = panel_folds(ds, 5)[0]
    tr, va = f.rows(ds.X.index, 'train'), f.rows(ds.X.index, 'val')
    t0 = time.perf_counter()
    m = MODELS['lgbm'].factory(cfg)().fit(ds.X.iloc[tr], ds.y_rel.iloc[tr], ds.X.iloc[va], ds.y_rel.iloc[va])
    out.update(fit_s=time.perf_counter() - t0, train_rows=len(tr), trees=m.best_iteration_)
out['peak_gib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""

def big(n_sym:int, n_days:int, step:str) -> dict:
    "One step of the large panel in a fresh process: its numbers, or why it stopped."
    r = subprocess.run([sys.executable, '-c', _BIG, str(n_sym), str(n_days), step], capture_output=True, text=True)
    if r.returncode: return {'error': r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f'exit {r.returncode}'}
    return json.loads(r.stdout.strip().splitlines()[-1])

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='a smoke test: 20 × 2,000 and 50 × 2,000')
    ap.add_argument('--big-symbols', type=int, default=500)
    ap.add_argument('--big-days', type=int, default=5000)
    a = ap.parse_args()
    from stocknb.panel import panel_dataset, planted_panel
    from stocknb.panel_models import PanelConfig, validate_panel
    days = 2000 if a.quick else 8000
    t0 = time.perf_counter()
    ds = panel_dataset(planted_panel(20, days, 0.05, seed=1))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    v = validate_panel(ds, PanelConfig(models=('lgbm',), n_jobs=2))
    t_val = time.perf_counter() - t0
    print(f"20 symbols × {days} days: {len(ds.X):,} rows × {ds.X.shape[1]} features; build {t_build:.1f} s, "
          f"5-fold LightGBM walk-forward judged per date {t_val:.1f} s (rank IC {v.summary.at['lgbm', 'rank_ic']:.4f}, "
          f"t {v.summary.at['lgbm', 't_nw']:.1f}); peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    report('panel', f'seconds: 20 × {days} panel built and LightGBM walked forward (5 date folds)', t_build + t_val,
           120.0, better='lower', unit='s')
    n_big, d_big = (50, 2000) if a.quick else (a.big_symbols, a.big_days)
    b = big(n_big, d_big, 'build'); f = big(n_big, d_big, 'fit')
    print(f"{n_big} symbols × {d_big} days: build {json.dumps(b)}; one LightGBM fold {json.dumps(f)}")
    for k, s in (('build_s', b), ('fit_s', f)):
        if k in s: report('panel', f'seconds: {n_big} × {d_big} panel, {k[:-2]}', s[k], 600.0, better='lower', unit='s')
    if 'peak_gib' in f: report('panel', f'peak GiB: {n_big} × {d_big} panel, one LightGBM fold', f['peak_gib'], 24.0,
                               better='lower', unit='GiB')
