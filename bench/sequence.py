"""Seconds per training epoch of the sequence models on the same shapes, against Keras' LSTM measured in the same run.

    python bench/sequence.py             # 3,000 samples × 60 steps × 150 features, batch 256, 64 units
    python bench/sequence.py --quick     # tiny shapes: checks that every model builds and trains (seconds)

Each model is compiled (Adam, MSE on every output), trained one warm-up epoch (tracing, first allocations), then
`--epochs` timed epochs; the figures are their medians, in wall-clock seconds and in CPU seconds of this process.
Models: `keras.layers.LSTM(64)` (the baseline; float32 also under `--mixed`, as in stocknb's builders), an RNN of
`stocknb.xlstm_ts.sLSTMCell(64)` with one and with two heads, the whole `xLSTM_TS` model, and the LSTM+Transformer (`stocknb.lstm_transformer.build_lstm_transformer`) when
this checkout has that module. Any other model is timed the same way by passing a builder to `epoch_seconds`.
Timings on a shared machine move by 10–50 % from run to run: compare ratios measured in one run, not seconds across
runs, and prefer the CPU-second ratio when other work competes for the cores."""
import argparse, os, statistics, sys, time
from pathlib import Path
from typing import Callable

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))      # this checkout's stocknb
import numpy as np
from _report import report           # bench/ is on sys.path when a bench runs as `python bench/NAME.py`

def epoch_seconds(build:Callable, # () -> keras.Model taking (samples, lookback, features); compiled here if it is not
                  X:np.ndarray, # inputs (samples, lookback, features)
                  epochs:int=3, # timed epochs, after one warm-up epoch
                  batch_size:int=256,
                 ) -> dict:
    "Train `build()` on `X` (targets: zeros shaped like each output) and time each epoch: the hook for any builder."
    import keras
    keras.utils.set_random_seed(0)
    model = build()
    out = model(X[:2])
    y = ({k: np.zeros((len(X), *v.shape[1:]), 'float32') for k, v in out.items()} if isinstance(out, dict)
         else np.zeros((len(X), *out.shape[1:]), 'float32'))
    if not model.compiled:
        model.compile(optimizer='adam', loss={k: 'mse' for k in out} if isinstance(out, dict) else 'mse')
    times, cpu = [], []
    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None): self.t0, self.c0 = time.perf_counter(), time.process_time()
        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0); cpu.append(time.process_time() - self.c0)
    model.fit(X, y, batch_size=batch_size, epochs=epochs + 1, verbose=0, callbacks=[Clock()], shuffle=False)
    return {'params': model.count_params(), 'warmup_s': times[0], 'epoch_s': statistics.median(times[1:]),
            'cpu_s': statistics.median(cpu[1:]), 'all_s': times[1:]}

def builders(lookback:int, n_features:int, units:int) -> dict:
    "name -> model builder; the LSTM+Transformer only when `stocknb.lstm_transformer` can be imported."
    import keras
    from stocknb.xlstm_ts import sLSTMCell, xLSTM_TS
    def rnn(layer):
        def build():
            inp = keras.Input((lookback, n_features))
            return keras.Model(inp, keras.layers.Dense(1)(layer()(inp)))
        return build
    b = {f'keras LSTM({units})': rnn(lambda: keras.layers.LSTM(units, dtype='float32')),
         f'sLSTM({units}), 1 head': rnn(lambda: keras.layers.RNN(sLSTMCell(units, num_heads=1))),
         f'sLSTM({units}), 2 heads': rnn(lambda: keras.layers.RNN(sLSTMCell(units, num_heads=2))),
         f'xLSTM_TS(emb {units}, 2 blocks, 2 heads)': lambda: xLSTM_TS(lookback, n_features, embedding_dim=units)}
    import stocknb
    try: from stocknb import lstm_transformer as lt
    except ImportError as e: print(f"note: LSTM+Transformer not timed ({type(e).__name__}: {e})")
    else:
        if Path(lt.__file__).parent != Path(stocknb.__file__).parent:      # e.g. an editable install elsewhere
            print(f"note: LSTM+Transformer not timed: stocknb.lstm_transformer came from {lt.__file__}, "
                  f"not from this checkout's {Path(stocknb.__file__).parent}")
        else: b['LSTM+Transformer'] = lambda: lt.build_lstm_transformer(lookback, n_features, multitask=False)
    return b

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='tiny shapes (256 × 20 × 8, 16 units, batch 64, 1 timed epoch)')
    p.add_argument('--samples', type=int, default=3000)
    p.add_argument('--lookback', type=int, default=60)
    p.add_argument('--features', type=int, default=150)
    p.add_argument('--units', type=int, default=64)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--epochs', type=int, default=3, help='timed epochs after the warm-up epoch (median reported)')
    p.add_argument('--only', nargs='*', help='time only the models whose name contains one of these words')
    p.add_argument('--mixed', action='store_true', help="build every model under Keras' 'mixed_float16' policy (GPU)")
    a = p.parse_args()
    if a.quick: a.samples, a.lookback, a.features, a.units, a.batch, a.epochs = 256, 20, 8, 16, 64, 1
    X = np.random.default_rng(0).normal(size=(a.samples, a.lookback, a.features)).astype('float32')
    import keras
    if a.mixed: keras.config.set_dtype_policy('mixed_float16')
    print(f"{a.samples:,} samples × {a.lookback} steps × {a.features} features, batch {a.batch}, {a.units} units; "
          f"keras {keras.__version__} ({keras.backend.backend()}), {os.cpu_count()} CPUs, "
          f"dtype policy {keras.config.dtype_policy().name}; "
          f"median of {a.epochs} epoch(s) after 1 warm-up epoch")
    todo = builders(a.lookback, a.features, a.units)
    if a.only: todo = {k: v for k, v in todo.items() if any(w.lower() in k.lower() for w in a.only)}
    res = {}
    for name, build in todo.items():
        res[name] = epoch_seconds(build, X, a.epochs, a.batch)
        print(f"  {name}: {res[name]['epoch_s']:.2f} s/epoch", flush=True)
    base = next((k for k in res if k.startswith('keras LSTM')), None)
    print(f"\n{'model':<40}{'params':>10}{'warm-up s':>11}{'s/epoch':>9}{'ratio':>7}{'CPU s/epoch':>13}{'ratio':>7}"
          f"   timed epochs (s)")
    for name, r in res.items():
        ratio = (lambda k: f"{r[k] / res[base][k]:>7.2f}") if base else (lambda k: f"{'—':>7}")
        each = ' '.join(f"{t:.2f}" for t in r['all_s'])
        print(f"{name:<40}{r['params']:>10,}{r['warmup_s']:>11.2f}{r['epoch_s']:>9.2f}{ratio('epoch_s')}"
              f"{r['cpu_s']:>13.2f}{ratio('cpu_s')}   {each}")
    sl = next((k for k in res if k.startswith('sLSTM') and 'two' not in k), None)
    if base and sl: report('sequence', f'{sl} s/epoch / keras LSTM s/epoch', res[sl]['epoch_s'] / res[base]['epoch_s'],
                           1.5, 'lower')
    print("ratios are against keras LSTM; CPU seconds (all threads of this process) move less than wall-clock "
          "seconds when the machine is shared")
