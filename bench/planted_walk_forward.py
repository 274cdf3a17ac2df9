"""Walk-forward OOF direction accuracy of sequence networks on a planted AR(1) signal, from the 8 raw daily
inputs (bench/planted_sequence.py's RAW), against the issue-11 bar 0.5 + 0.7 (Bayes - 0.5). Registers an
experimental builder 'lstm_highway' (a plain LSTM plus an L2-regularised linear path from the last row,
LSTNet's autoregressive component) next to the package's builders.

    python bench/planted_walk_forward.py --cfg "{}" --cfg "{'build_kw': {'highway': False}}"
    python bench/planted_walk_forward.py \
        --cfg "{'builder': 'xlstm_ts', 'build_kw': {'embedding_dim': 16, 'n_blocks': 1}}"
"""
import argparse, ast, time
import keras
from stocknb.sequence import register_builder
from stocknb.data import planted_bar

from stocknb.features import DAILY_INPUTS
RAW = list(DAILY_INPUTS)   # the daily inputs the pipeline's sequence presets read

@register_builder('lstm_highway')
def build_lstm_highway(lookback, n_features, units=16, highway=True, hw_l2=1.0):
    "A plain LSTM regressor, plus (highway=True) an L2-regularised linear map of the last row added to its output."
    x = keras.Input((lookback, n_features), name='features')
    out = keras.layers.Dense(1)(keras.layers.LSTM(units)(x))
    if highway: out = out + keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(hw_l2))(x[:, -1, :])
    return keras.Model(x, {'magnitude': out})

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=8000, help='days of planted data (default 8000)')
    p.add_argument('--seed', type=int, default=0, help='seed of the data (default 0)')
    p.add_argument('--cfg', action='append', default=[], help='SequenceModel settings as a Python dict literal')
    a = p.parse_args()
    from stocknb.data import planted_signal_ohlcv
    from stocknb.features import make_dataset
    from stocknb.sequence import sequence_factory
    import stocknb.lstm_transformer, stocknb.xlstm_ts       # register their builders
    from stocknb.walk_forward import WalkForwardValidator
    ds = make_dataset(planted_signal_ohlcv(a.n, phi=0.2, seed=a.seed))
    X, y = ds.X[RAW], ds.y
    bar = planted_bar(0.2)
    base = dict(builder='lstm_highway', lookback=20, epochs=100, batch_size=128, learning_rate=1e-3, patience=20,
                verbose=0)
    for c in a.cfg or ['{}']:
        t0 = time.perf_counter()
        r = WalkForwardValidator(n_splits=5).validate(sequence_factory(**{**base, **ast.literal_eval(c)}), X, y,
                                                      progress=False)
        print(f"{c}: {time.perf_counter() - t0:.0f} s, OOF accuracy {r.oof_metrics.direction_accuracy:.4f} "
              f"(bar {bar:.4f}); folds {[round(f.test.direction_accuracy, 3) for f in r.folds]}")

if __name__ == '__main__': main()
