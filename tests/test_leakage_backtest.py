"""No leakage, the backtester's timing: a position decided at a close earns only the returns after it."""
import numpy as np, pandas as pd, pytest
from stocknb.core import DataError

# ---------------------------------------------------------------- backtester timing
from stocknb.backtest import Backtester, positions_from_predictions
from stocknb.data import random_walk_ohlcv

def rw_close(n=3000, seed=5):
    return random_walk_ohlcv(n, seed=seed)['Close']

class TestBacktestAlignment:
    def test_lag_applied(self):
        c = rw_close(50)
        pos = pd.Series(np.random.default_rng(1).choice([-1.0, 0.0, 1.0], 50), index=c.index)
        res = Backtester(cost_bps=0).run(pos, prices=c)
        np.testing.assert_array_equal(res.positions.to_numpy()[1:], pos.to_numpy()[:-1])
        np.testing.assert_allclose(res.gross_returns.to_numpy()[1:], pos.to_numpy()[:-1] * c.pct_change().to_numpy()[1:], rtol=0, atol=1e-15)

    def test_first_day_flat(self):
        c = rw_close(20)
        res = Backtester(cost_bps=10).run(pd.Series(1.0, index=c.index), prices=c)
        assert res.positions.iloc[0] == 0 and res.gross_returns.iloc[0] == 0      # nothing is held on the first day
        assert res.costs.iloc[0] == pytest.approx(1e-3) and res.returns.iloc[0] == pytest.approx(-1e-3)   # the entry trade at its close
        assert res.positions.iloc[1] == 1 and res.costs.iloc[1:].sum() == 0

    def test_costs_on_turnover(self):
        c = rw_close(8)
        pos = pd.Series([1, 1, -1, -1, 0, 0.5, 0.5, 0.5], index=c.index, dtype=float)
        res = Backtester(cost_bps=3, slippage_bps=2).run(pos, prices=c)
        trades = np.abs(np.diff(pos.to_numpy(), prepend=0))
        np.testing.assert_allclose(res.turnover.to_numpy(), trades)
        np.testing.assert_allclose(res.costs.to_numpy(), 5e-4 * trades)
        np.testing.assert_allclose(res.returns, res.gross_returns - res.costs)
        assert res.costs.iloc[1] == 0 and res.costs.iloc[2] == pytest.approx(1e-3)     # 1 -> -1 costs two units, at the decision bar

    def test_perfect_foresight_only_profitable_without_lag(self):
        c = rw_close(5000)
        peek = np.sign(c.pct_change()).fillna(0.0)           # knows the bar's own return
        lagged = Backtester(cost_bps=0).run(peek, prices=c).metrics().iloc[:, 0]
        cheat = Backtester(cost_bps=0, apply_position_lag=False).run(peek, prices=c).metrics().iloc[:, 0]
        assert cheat['sharpe'] > 10 and cheat['win rate'] > 0.99
        assert abs(lagged['sharpe']) < 0.8                     # ~3.5 standard errors of an annual Sharpe over 20 years

    def test_equity_equals_independent_reference(self):
        c = rw_close(300, seed=9)
        pos = pd.Series(np.random.default_rng(3).uniform(-1.5, 1.5, 300), index=c.index)
        res = Backtester(cost_bps=7, slippage_bps=1).run(pos, prices=c)
        eq, out = 1.0, []
        closes = c.to_list(); p = pos.to_list()
        for t in range(len(closes)):                            # plain-Python reference, bar by bar
            held = p[t - 1] if t > 0 else 0.0                   # decided at the previous close
            r = closes[t] / closes[t - 1] - 1 if t > 0 else 0.0
            traded = abs(p[t] - (p[t - 1] if t > 0 else 0.0))   # trade made at this close
            eq *= 1 + held * r - 8e-4 * traded
            out.append(eq)
        np.testing.assert_allclose(res.equity.to_numpy(), out, rtol=1e-12)

    def test_returns_input_matches_prices_input(self):
        c = rw_close(200)
        pos = positions_from_predictions(pd.Series(np.random.default_rng(2).normal(size=200), index=c.index))
        a = Backtester().run(pos, prices=c); b = Backtester().run(pos, returns=c.pct_change().fillna(0.0))
        pd.testing.assert_series_equal(a.returns, b.returns)

    def test_misaligned_or_missing_inputs_refused(self):
        c = rw_close(30)
        with pytest.raises(DataError, match='without a price/return'): Backtester().run(pd.Series(1.0, index=c.index + pd.Timedelta(days=1)), prices=c)
        with pytest.raises(DataError, match='NaN/inf'): Backtester().run(pd.Series(np.nan, index=c.index), prices=c)
