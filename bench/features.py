"""Benchmark: stocknb.features.build_features against the `ta` package's add_all_ta_features.

    python bench/features.py              # 5,000 rows, then 20 symbols (4 bundled + 16 synthetic)
    python bench/features.py --repeat 5   # more repeats (best time is reported)

Times are wall-clock, best of `--repeat` runs (after one warm-up run), single process. Per-feature
time is the total divided by the number of columns each library adds. `ta` runs with its default
`vectorized=False` (all indicators, as the issue asks) and with `vectorized=True` (only its vectorized
ones) for a fairer comparison. A benchmark, not a test: it asserts nothing, it prints."""
import argparse, os, sys, time, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the checkout's stocknb, wherever it is run from
import numpy as np, pandas as pd
from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`

def best(f, repeat):
    f()                                                               # warm-up (imports, caches)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

def ta_features(df, vectorized=False):
    import ta
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                                # ta divides by zero in places
        return ta.add_all_ta_features(df.copy(), open='Open', high='High', low='Low', close='Close', volume='Volume',
                                      fillna=False, vectorized=vectorized)

def group_times(df, repeat):
    "Time each feature group of build_features on its own (sharing nothing), in ms per feature."
    from stocknb.data import validate_ohlcv
    import stocknb.features as F
    d = validate_ohlcv(df)
    rows = []
    for g, (fn, names) in F._GROUPS.items():
        t = best(lambda: fn(F._Bars(d)), repeat)
        rows.append({'group': g, 'features': len(names), 'ms': t * 1e3, 'us_per_feature': t / len(names) * 1e6})
    tv = best(lambda: validate_ohlcv(df), repeat)
    rows.append({'group': '(validate_ohlcv)', 'features': 0, 'ms': tv * 1e3, 'us_per_feature': float('nan')})
    return pd.DataFrame(rows).set_index('group')

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rows', type=int, default=5000)
    p.add_argument('--symbols', type=int, default=20)
    p.add_argument('--repeat', type=int, default=3)
    a = p.parse_args(argv)
    from stocknb.data import load_ohlcv, random_walk_ohlcv, sample_symbols
    from stocknb.features import build_features, FEATURE_COUNT
    from importlib.metadata import version
    pd.set_option('display.width', 120)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; numpy {np.__version__}, pandas {pd.__version__}, ta {version('ta')}")

    # 1. one series of --rows rows
    df = random_walk_ohlcv(a.rows, seed=0)
    t_ours = best(lambda: build_features(df), a.repeat)
    n_ta = ta_features(df).shape[1] - df.shape[1]
    t_ta = best(lambda: ta_features(df), max(1, a.repeat - 1))
    n_tav = ta_features(df, True).shape[1] - df.shape[1]
    t_tav = best(lambda: ta_features(df, True), a.repeat)
    print(f"\n== one series, {a.rows:,} rows (random walk)")
    res = pd.DataFrame([
        {'library': 'stocknb.build_features', 'features': FEATURE_COUNT, 'total_ms': t_ours * 1e3},
        {'library': 'ta.add_all_ta_features', 'features': n_ta, 'total_ms': t_ta * 1e3},
        {'library': 'ta.add_all_ta_features(vectorized=True)', 'features': n_tav, 'total_ms': t_tav * 1e3}]).set_index('library')
    res['us_per_feature'] = res['total_ms'] * 1e3 / res['features']
    res['per_feature_ratio_vs_stocknb'] = res['us_per_feature'] / res.loc['stocknb.build_features', 'us_per_feature']
    print(res.round(2).to_string())
    print(f"target: 150 features × 5,000 rows < 500 ms -> {FEATURE_COUNT} features in {t_ours*1e3:.0f} ms; "
          f"per feature {res.iloc[1, -1]:.1f}× faster than ta (target ≥ 3×)")
    report('features', f'ms for {FEATURE_COUNT} features × {a.rows:,} rows', t_ours * 1e3, 500, 'lower', ' ms')
    report('features', 'per-feature speed vs ta.add_all_ta_features', res.iloc[1, -1], 3)
    print(f"\n== per group of build_features ({a.rows:,} rows; each group alone, so shared intermediates are recomputed)")
    print(group_times(df, a.repeat).round(1).to_string())

    # 2. many symbols
    frames = {s: load_ohlcv(s) for s in sample_symbols()}
    for i in range(max(0, a.symbols - len(frames))):
        frames[f'SYN{i:02d}'] = random_walk_ohlcv(3270, seed=100 + i)
    frames = dict(list(frames.items())[:a.symbols])
    rows = sum(len(d) for d in frames.values())
    t_ours = best(lambda: [build_features(d) for d in frames.values()], a.repeat)
    t_ta = best(lambda: [ta_features(d) for d in frames.values()], 1)
    t_tav = best(lambda: [ta_features(d, True) for d in frames.values()], 1)
    print(f"\n== {len(frames)} symbols ({', '.join(list(frames)[:4])} + {len(frames) - 4} synthetic), {rows:,} rows in all, one process")
    res = pd.DataFrame([
        {'library': 'stocknb.build_features', 'features': FEATURE_COUNT, 'total_s': t_ours},
        {'library': 'ta.add_all_ta_features', 'features': n_ta, 'total_s': t_ta},
        {'library': 'ta.add_all_ta_features(vectorized=True)', 'features': n_tav, 'total_s': t_tav}]).set_index('library')
    res['ms_per_symbol'] = res['total_s'] * 1e3 / len(frames)
    res['us_per_feature_per_symbol'] = res['total_s'] * 1e6 / res['features'] / len(frames)
    res['per_feature_ratio_vs_stocknb'] = res['us_per_feature_per_symbol'] / res.loc['stocknb.build_features', 'us_per_feature_per_symbol']
    print(res.round(3).to_string())
    print(f"\nload average at end {os.getloadavg()[0]:.2f} (the machine is shared: numbers vary by tens of percent)")

if __name__ == '__main__': main()
