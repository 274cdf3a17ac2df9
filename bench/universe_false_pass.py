"""Universe-wide multiple testing on placebo universes: no symbol may pass with Holm; BH's false-discovery share ≤ α.

Each universe holds 40 placebo symbols as CSV files: 20 random walks and 20 shuffled-day series of the bundled
symbols (5 random orders of each), all different from one universe to the next. Every (symbol, model) test of a
run is corrected together (`run_universe`, Holm); from the same raw Pesaran–Timmermann p-values the bench also
applies Benjamini–Hochberg and no correction, and counts the coin's test (the old gate) for comparison. On a
placebo every pass is false, so the false-discovery share of a run is 1 when anything passes and 0 otherwise.
Usage: python bench/universe_false_pass.py [--universes 5] [--symbols 40] [--models xgb lgbm] [--stacking]"""
import argparse, os, tempfile, time
from pathlib import Path
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import pandas as pd
from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`
from stocknb.data import load_ohlcv, random_walk_ohlcv, sample_symbols, shuffled_days
from stocknb.metrics import adjust_pvalues
from stocknb.pipeline import PipelineConfig
from stocknb.universe import run_universe

def placebo_folder(d:Path, k:int, n:int, days:int=3000) -> Path:
    "Universe `k`: n/2 random walks and n/2 shuffled-day series of the bundled symbols, as CSV files in `d`."
    syms = sample_symbols()
    for i in range(n // 2): random_walk_ohlcv(days, seed=1000 * k + i).to_csv(d/f'RW{i}.csv')
    for i in range(n - n // 2):
        s = syms[i % len(syms)]
        shuffled_days(load_ohlcv(s), seed=1000 * k + i).to_csv(d/f'SH{s}{i}.csv')
    return d

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--universes', type=int, default=5)
    ap.add_argument('--symbols', type=int, default=40)
    ap.add_argument('--models', nargs='+', default=['xgb', 'lgbm'])
    ap.add_argument('--stacking', action='store_true')
    a = ap.parse_args()
    rows, t0 = [], time.time()
    for k in range(a.universes):
        with tempfile.TemporaryDirectory() as tmp:
            d = placebo_folder(Path(tmp), k, a.symbols)
            cfg = PipelineConfig(models=tuple(a.models), stacking=a.stacking, models_dir=str(Path(tmp)/'models'))
            u = run_universe(config=cfg, data_dir=d, n_jobs=2, progress=False)
        ok = u.table[u.table.status == 'ok'].set_index(['symbol', 'model'])
        alpha = cfg.alpha
        n_pass = {m: int(adjust_pvalues(ok['p_raw'], m, alpha)['reject'].sum()) for m in ('holm', 'bh', 'none')}
        coin = adjust_pvalues(ok['coin_p'], 'holm', alpha)['reject'].sum()
        per_symbol = sum(adjust_pvalues(g['p_raw'], 'holm', alpha)['reject'].sum() for _, g in ok.groupby(level=0))
        rows.append({'universe': k, 'symbols': ok.index.get_level_values(0).nunique(), 'tests': len(ok),
                     'failures': len(u.failures), 'gate passes (Holm)': int(ok['passed'].sum()),
                     'symbols passed (Holm)': ok[ok['passed']].index.get_level_values(0).nunique(),
                     'significant: Holm': n_pass['holm'], 'BH': n_pass['bh'], 'uncorrected': n_pass['none'],
                     'Holm per symbol only': int(per_symbol),
                     'BH false-discovery share': float(n_pass['bh'] > 0),
                     'coin: uncorrected': int((ok['coin_p'] < alpha).sum()), 'coin: Holm': int(coin),
                     'min p': float(ok['p_raw'].min()), 'seconds': round(u.seconds)})
        print(pd.DataFrame(rows).to_string(index=False), flush=True)
    T = pd.DataFrame(rows)
    print(f"\n{len(T)} placebo universes of {a.symbols} symbols × {len(a.models) + a.stacking} models, α = {alpha}:")
    print(f"  symbols that passed the gate (Holm over the universe): {T['symbols passed (Holm)'].sum()} in all")
    print(f"  mean BH false-discovery share: {T['BH false-discovery share'].mean():.3f} (target ≤ α = {alpha})")
    print(f"  uncorrected significant tests per universe: {T['uncorrected'].mean():.1f} (expected ≈ "
          f"{alpha * T['tests'].mean():.1f}); the coin's, uncorrected: {T['coin: uncorrected'].mean():.1f}")
    print(f"  significant with Holm within each symbol only (the correction before the universe-wide one): "
          f"{T['Holm per symbol only'].sum()} tests in {int((T['Holm per symbol only'] > 0).sum())} of {len(T)} universes")
    print(f"{time.time() - t0:.0f} s")
    report('universe_false_pass', 'symbols passing the Holm-corrected gate, all placebo universes',
           T['symbols passed (Holm)'].sum(), 0, better='lower', unit='symbols')
    report('universe_false_pass', 'mean BH false-discovery share on placebo universes',
           T['BH false-discovery share'].mean(), alpha, better='lower', unit='')
