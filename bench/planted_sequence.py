"""Can a sequence network find a planted AR(1) signal? One chronological 60/20/20 split of
`planted_signal_ohlcv(n, phi)`: train on the first 60 %, stop early on the next 20 % (with context rows
in front), report direction accuracy on the last 20 %, next to XGBoost and LightGBM on the same split
and the Bayes bound 0.5 + arcsin(phi)/pi. A working tool for issue 11 (the sequence models must reach
0.5 + 0.7 (Bayes - 0.5)); one split is noisy (one s.e. ≈ 0.016 on 1,000 test days).

    python bench/planted_sequence.py                          # plain LSTM on 8 raw daily inputs
    python bench/planted_sequence.py --features all --cfg "{'lookback': 5}" --cfg "{'builder': 'lstm_transformer'}"
"""
import argparse, ast, time
import numpy as np, pandas as pd
from stocknb.data import bayes_direction_accuracy, planted_bar

from stocknb.features import DAILY_INPUTS
RAW = list(DAILY_INPUTS)   # the daily inputs the pipeline's sequence presets read

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=5000, help='days of planted data (default 5000)')
    p.add_argument('--phi', type=float, default=0.2, help='AR(1) coefficient (default 0.2)')
    p.add_argument('--seed', type=int, default=1, help='seed of the data (default 1)')
    p.add_argument('--features', default='raw', choices=('raw', 'all'), help='8 raw daily inputs or all 210')
    p.add_argument('--gbm', action='store_true', help='also XGBoost and LightGBM on the same split')
    p.add_argument('--cfg', action='append', default=[], help="SequenceModel settings as a Python dict literal")
    a = p.parse_args()
    from stocknb.data import planted_signal_ohlcv
    from stocknb.features import make_dataset
    from stocknb.sequence import SequenceModel
    import stocknb.lstm_transformer, stocknb.xlstm_ts       # register their builders
    ds = make_dataset(planted_signal_ohlcv(a.n, phi=a.phi, seed=a.seed))
    X, y = (ds.X[RAW] if a.features == 'raw' else ds.X), ds.y
    n = len(X); i, j = int(n * .6), int(n * .8)
    bayes, bar = bayes_direction_accuracy(a.phi), planted_bar(a.phi)
    print(f"{n} rows × {X.shape[1]} features; test rows {n - j}; Bayes {bayes:.4f}, bar {bar:.4f}")
    acc = lambda p, t: float(np.mean(np.sign(p) == np.sign(t)))
    if a.gbm:
        from stocknb.gbm import GBMModel
        for k in ('xgb', 'lgbm'):
            g = GBMModel(k).fit(X.iloc[:i], y.iloc[:i], X.iloc[i:j], y.iloc[i:j])
            print(f"{k:>5}: test {acc(g.predict(X.iloc[j:]), y.iloc[j:]):.4f}")
    base = dict(builder='plain_lstm', lookback=20, build_kw={'units': 16}, epochs=60, batch_size=128,
                learning_rate=1e-3, patience=10, verbose=0)
    for c in a.cfg or ['{}']:
        kw = {**base, **ast.literal_eval(c)}
        if kw['builder'] != base['builder'] and 'build_kw' not in ast.literal_eval(c): kw['build_kw'] = {}
        m, t0 = SequenceModel(**kw), time.perf_counter()
        L = m.context
        m.fit(X.iloc[:i], y.iloc[:i], X.iloc[i - L:j], pd.concat([y.iloc[i - L:i] * np.nan, y.iloc[i:j]]))
        pv, pt = m.predict(X.iloc[i - L:j])[L:], m.predict(X.iloc[j - L:])[L:]
        print(f"{c}: {time.perf_counter() - t0:.0f} s, {len(m.history_)} epochs (best {m.epochs_}); "
              f"validation {acc(pv, y.iloc[i:j]):.4f} (chosen on it), test {acc(pt, y.iloc[j:]):.4f}")

if __name__ == '__main__': main()
