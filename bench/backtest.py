"""Speed of stocknb's Backtester against vectorbt and backtesting.py, with equity curves checked to agree.

    pip install -e ".[bench]"; python bench/backtest.py [--bars 1000000] [--bt-bars 100000]

The same random long/flat positions and random-walk prices go through each engine with the same
5 bps fee. Conventions, aligned explicitly:
- stocknb: a position decided at bar t's close is held during bar t+1 (`apply_position_lag=True`).
- vectorbt `Portfolio.from_orders`: an order at bar t fills at bar t's close, so the holding earns
  bar t+1's return: the same timing as the decision at t with stocknb's one-bar lag. Passing
  stocknb's *lagged* series (positions shifted one bar) would lag twice. Orders are sent only
  when the target changes (size_type 'targetpercent'), so vectorbt does not rebalance in between.
- backtesting.py: `trade_on_close=True` fills at the signal bar's close (same timing again);
  it trades whole shares, so the starting cash is large to make rounding negligible.
Long/flat positions keep the invested weight exactly 0 or 1 between trades, so the three
definitions of a fee on turnover coincide up to how each engine funds the fee (it comes out of
cash in vectorbt and backtesting.py, out of the return in stocknb): the curves agree "to fee
rounding", and the script prints the largest relative difference.
Timings are the best of several warm runs in one process; ratios are against stocknb in the same run.
"""
import argparse, os, time, warnings
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import numpy as np, pandas as pd
from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`

def best_of(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t0)
    return min(ts), out

def data(n, seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.date_range('1900-01-01', periods=n, freq='D')   # calendar days: a million bars fit in pandas' range
    close = pd.Series(100 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), index=idx)
    change = rng.random(n) < 0.02                                # a new decision on ~2 % of bars (a trade every ~100 bars)
    pos = pd.Series(np.where(change, rng.integers(0, 2, n), np.nan), index=idx).ffill().fillna(0.0)
    return close, pos

def run_stocknb(close, pos, fee):
    from stocknb.backtest import Backtester
    bt = Backtester(cost_bps=fee * 1e4)
    return lambda: bt.run(pos, prices=close).equity

def run_vectorbt(close, pos, fee):
    import vectorbt as vbt
    size = pos.where(pos.diff().fillna(pos) != 0)                  # orders only when the target changes
    def go():
        pf = vbt.Portfolio.from_orders(close, size=size, size_type='targetpercent', fees=fee, init_cash=1e6, freq='1D')
        return pf.value() / 1e6
    return go

def run_backtestingpy(close, pos, fee):
    from backtesting import Backtest, Strategy
    df = pd.DataFrame({'Open': close, 'High': close, 'Low': close, 'Close': close, 'Volume': 1.0})
    target = pos.to_numpy()
    class Target(Strategy):
        def init(self): pass
        def next(self):
            i = len(self.data) - 1
            want, have = target[i], (1.0 if self.position.is_long else 0.0)
            if want != have:
                if want == 0: self.position.close()
                else: self.buy(size=0.9995)
    def go():
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            st = Backtest(df, Target, cash=1e12, commission=fee, trade_on_close=True, exclusive_orders=False, finalize_trades=True).run()
        return st._equity_curve['Equity'] / 1e12
    return go

def rel_diff(a, b):
    "Largest relative difference of two equity curves, and of their daily returns (absolute)."
    a, b = np.asarray(a, float), np.asarray(b, float)
    ra, rb = a[1:] / a[:-1] - 1, b[1:] / b[:-1] - 1
    return float(np.max(np.abs(a / b - 1))), float(np.max(np.abs(ra - rb)))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bars', type=int, default=1_000_000)
    ap.add_argument('--bt-bars', type=int, default=100_000)
    ap.add_argument('--repeat', type=int, default=5)
    a = ap.parse_args()
    fee = 5e-4
    close, pos = data(a.bars)
    sn = run_stocknb(close, pos, fee); vb = run_vectorbt(close, pos, fee)
    run_vectorbt(close.iloc[:1000], pos.iloc[:1000], fee)()        # compile vectorbt's numba kernels first (warm)
    t_sn, eq_sn = best_of(sn, a.repeat); t_vb, eq_vb = best_of(vb, a.repeat)
    # stocknb's equity is after each bar's return; vectorbt's value too (init_cash 1)
    d_vb = rel_diff(eq_sn, eq_vb)
    print(f"{a.bars:,} bars, {int((pos.diff().abs() > 0).sum()):,} position changes, fee {fee * 1e4:.0f} bps")
    print(f"  stocknb   {t_sn * 1e3:8.1f} ms")
    print(f"  vectorbt  {t_vb * 1e3:8.1f} ms   ratio vectorbt/stocknb {t_vb / t_sn:5.2f}   (target: stocknb within 1.5x of vectorbt, i.e. ratio >= 0.67)")
    report('backtest', f'vectorbt time / stocknb time, {a.bars:,} bars', t_vb / t_sn, 0.67)
    print(f"  agreement stocknb vs vectorbt: equity max relative difference {d_vb[0]:.2e} (final {eq_sn.iloc[-1]:.6g} vs {eq_vb.iloc[-1]:.6g}); "
          f"daily returns max absolute difference {d_vb[1]:.2e} (a fee is {fee:.0e})")
    c2, p2 = close.iloc[:a.bt_bars], pos.iloc[:a.bt_bars]
    sn2, bp = run_stocknb(c2, p2, fee), run_backtestingpy(c2, p2, fee)
    t_sn2, eq_sn2 = best_of(sn2, a.repeat); t_bp, eq_bp = best_of(bp, 1)
    d_bp = rel_diff(eq_sn2, eq_bp)
    print(f"{a.bt_bars:,} bars")
    print(f"  stocknb        {t_sn2 * 1e3:10.1f} ms")
    print(f"  backtesting.py {t_bp * 1e3:10.1f} ms   ratio backtesting.py/stocknb {t_bp / t_sn2:7.0f}   (target >= 50)")
    report('backtest', f'backtesting.py time / stocknb time, {a.bt_bars:,} bars', t_bp / t_sn2, 50)
    print(f"  agreement stocknb vs backtesting.py: equity max relative difference {d_bp[0]:.2e}; daily returns max absolute difference {d_bp[1]:.2e}")

if __name__ == '__main__': main()
