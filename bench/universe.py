"""Universe speed-up: 20 symbols (the 4 bundled and 16 synthetic), validated with n_jobs=1 and n_jobs=2 (loky).

Prints both wall times, the speed-up (target ≥ 1.7× on 2 cores), the peak resident memory of each worker process,
and checks that both runs give identical tables. Usage: python bench/universe.py [--models xgb lgbm] [--days 2500]"""
import argparse, os, tempfile, time
from pathlib import Path
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import pandas as pd
from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
from stocknb.data import load_ohlcv, planted_signal_ohlcv, random_walk_ohlcv, sample_symbols
from stocknb.pipeline import PipelineConfig
from stocknb.universe import run_universe

def universe_folder(d:Path, days:int) -> Path:
    "The 4 bundled symbols and 8 random walks and 8 planted series as CSV files."
    for s in sample_symbols(): load_ohlcv(s).to_csv(d/f'{s}.csv')
    for i in range(8): random_walk_ohlcv(days, seed=100 + i).to_csv(d/f'RW{i}.csv')
    for i in range(8): planted_signal_ohlcv(days, phi=0.2, seed=200 + i).to_csv(d/f'PL{i}.csv')
    return d

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=['xgb', 'lgbm'])
    ap.add_argument('--days', type=int, default=2500)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = universe_folder(Path(tmp), a.days)
        cfg = PipelineConfig(models=tuple(a.models), models_dir=str(Path(tmp)/'models'))
        runs = {}
        for n in (1, 2):
            t0 = time.perf_counter()
            runs[n] = run_universe(config=cfg, data_dir=d, n_jobs=n, progress=False)
            print(f"n_jobs={n}: {time.perf_counter() - t0:.1f} s for {len(runs[n].closes.columns)} symbols")
        num = lambda u: (u.table.drop(columns=['seconds', 'validation_id']).sort_values(['symbol', 'model'])
                         .reset_index(drop=True))
        pd.testing.assert_frame_equal(num(runs[1]), num(runs[2]))
        s = runs[1].seconds / runs[2].seconds
        print(f"speed-up n_jobs 2 vs 1: {s:.2f}× (target ≥ 1.7× on 2 cores); identical tables: yes")
        report('universe', f'speed-up n_jobs 2 vs 1, {len(runs[1].closes.columns)} symbols', s, 1.7)
        for n, u in runs.items():
            print(f"n_jobs={n} workers:\n" + u.workers.round(1).to_string(index=False))
        print(f"peak resident memory per worker: {max(u.workers.peak_rss_mb.max() for u in runs.values()):.0f} MiB")
