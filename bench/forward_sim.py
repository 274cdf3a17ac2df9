"""Forward-simulation cost is linear in the days simulated: the same fitted model replayed day by day over N and 2N
days of AAPL (every step rebuilds the features from the data before it), and the ratio of the two times.

    python bench/forward_sim.py [--days 100]

A replay that recomputed something growing with the steps already taken would be quadratic (ratio → 4); the target
is ≤ 2.3 (2.0 is exactly linear; the history each step rebuilds features over grows a little with N)."""
import argparse, os, sys, time
from pathlib import Path
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report
from stocknb.data import load_ohlcv
from stocknb.features import make_dataset
from stocknb.forward_sim import ForwardSimulator
from stocknb.walk_forward import RidgeModel

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--days', type=int, default=100)
    a = ap.parse_args()
    df = load_ohlcv('AAPL')
    ds = make_dataset(df)
    n = 2 * a.days + 1
    model = RidgeModel(10.0).fit(ds.X.iloc[:-n], ds.y.iloc[:-n])              # fitted before every simulated day
    ForwardSimulator(model).run(df, start=df.index[-5], progress=False)      # warm-up: imports, first calls
    times = {}
    for d in (a.days, 2 * a.days):
        sim = ForwardSimulator(model)
        start = df.index[-d]
        t0 = time.perf_counter(); r = sim.run(df, start=start, progress=False); times[d] = time.perf_counter() - t0
        print(f"{d:5d} days: {times[d]:6.2f} s ({times[d] / d * 1e3:.0f} ms per day)", flush=True)
    ratio = times[2 * a.days] / times[a.days]
    print(f"time({2 * a.days}) / time({a.days}) = {ratio:.2f} (linear: 2.0; target ≤ 2.3)")
    report('forward_sim', f'time(2N)/time(N), N={a.days} days', ratio, 2.3, 'lower')

if __name__ == '__main__': main()
