#!/usr/bin/env bash
# The paper's headline on one GPU in one device call (about 9 minutes on an H200 with 16 cores):
#   1. `bench fit`: Net_P training img/s, GPU busy % and % of the bf16 peak, streamed input against
#      device-resident input, in one table from one machine (FIT_S seconds at most);
#   2. `photoz-nb headline --epochs $EPOCHS`: the 516,525-galaxy set built over all cores, full-width
#      Net_P trained on its training split, test PDFs with 8-fold TTA, kNN and RF on the same galaxies,
#      the summary table, the CNN/RF sigma_MAD ratio, the figures, and each stage's wall time.
# Needs the project's dependencies importable with a CUDA JAX (`pip install -e ".[gpu]"`, or wheels on
# PYTHONPATH). Logs, the table and the figures are copied to $OUT (default build/gpu-headline).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-build/gpu-headline}
mkdir -p "$OUT"
export KERAS_BACKEND=jax PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-20}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
echo "== bench fit (limit ${FIT_S:-150} s)"
timeout "${FIT_S:-150}" "$PY" -c "from photoz_nb import bench
bench.bench_fit('paper', ${BENCH_GALAXIES:-24000}, epochs=2, mixed_precision=True)" >"$OUT/fit.log" 2>&1
echo "exit $?"; grep -E '^\|' "$OUT/fit.log" || tail -n 5 "$OUT/fit.log"

echo "== headline, ${EPOCHS:-10} epochs (limit ${HEADLINE_S:-390} s)"
timeout "${HEADLINE_S:-390}" "$PY" -m photoz_nb.cli headline --epochs "${EPOCHS:-10}" 2>&1 \
    | grep -vE 'it/s\]|img/s\]' | tee "$OUT/headline.log"
echo "exit ${PIPESTATUS[0]}"
cp figures/paper/summary_table.md figures/paper/{zphot_vs_zspec,pit_histogram,learning_curves}.png "$OUT/" 2>/dev/null
exit 0
