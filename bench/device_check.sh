#!/usr/bin/env bash
# The GPU check of issue 11, run through the device tool from the repo root with the wheels of .whl carried:
#   keras namex optree fastcore PyWavelets TA-Lib for CPython 3.12 (the device has no TensorFlow or Keras).
# Prints bench/sequence.py under mixed precision and in float32, then one walk-forward fold of each pipeline
# sequence model with mixed precision on; copies of each output land in $OUT.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
python3 bench/sequence.py --mixed 2>&1 | grep -v '^WARNING\|^I0000\|^E0000' | tee "$OUT/sequence_mixed.txt"
python3 bench/sequence.py 2>&1 | grep -v '^WARNING\|^I0000\|^E0000' | tee "$OUT/sequence_fp32.txt"
python3 bench/device_fold.py --mixed on 2>&1 | grep -v '^WARNING\|^I0000\|^E0000' | tee "$OUT/fold_mixed.txt"
