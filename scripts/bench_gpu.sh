#!/usr/bin/env bash
# The GPU numbers of the README: Net_P training and inference throughput on one NVIDIA GPU,
# through the real input pipeline (with GPU utilisation) and on a fixed batch (the model's ceiling).
# Needs the project's dependencies importable (`make install`, or wheels on PYTHONPATH).
# Each step has its own time limit, so one slow or failing backend does not cost the others.
# Tables go to stdout and to $OUT (default build/bench-gpu).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-build/bench-gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
N=${BENCH_GALAXIES:-24000}     # synthetic galaxies for the model.fit runs (60 % train)
P=${BENCH_PROFILE:-paper}      # width, batch and learning rate of the model.fit runs
W=${BENCH_WIDTH:-1.0}          # width of the fixed-batch runs (1.0 = Net_P as published)

step() {  # step NAME SECONDS BACKEND PYTHON-CODE
    echo "== $1 (KERAS_BACKEND=$3, limit $2 s)"
    KERAS_BACKEND=$3 timeout "$2" "$PY" -c "$4" >"$OUT/$1.log" 2>&1
    echo "exit $?"; grep -E '^\||^model|^train|^infer' "$OUT/$1.log" || tail -n 5 "$OUT/$1.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
"$PY" -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" 2>&1 | tail -n 1
step fit-jax "${FIT_S:-240}" jax "from photoz_nb import bench; bench.bench_fit('$P', $N)"
step train-jax "${TRAIN_S:-120}" jax "from photoz_nb import bench
bench.bench_train(widths=($W,), batch_size=128); bench.bench_train(widths=($W,), batch_size=512)
bench.bench_predict(widths=($W,), batch_size=1024)"
step fit-torch "${TORCH_S:-150}" torch "from photoz_nb import bench; bench.bench_fit('$P', $N)"
