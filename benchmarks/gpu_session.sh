#!/usr/bin/env bash
# The GPU steps behind the README's GPU numbers, for a CUDA machine (made for the lent H100: 16 CPUs,
# no network, what travels there capped at 64 MiB). From the repo root on that machine:
#   bash benchmarks/gpu_session.sh STEP [STEP ...]
#
#   gpu-checks         tests/test_gpu_checks.py: device resize = OpenCV, device path = host path,
#                      CUDA graphs = eager, for every model (run this first on a new machine)
#   throughput         benchmarks/throughput.py: the zoo's frames/s, model alone and score_all
#   synthetic          train + evaluate BCAE1, ConvGRU AE, Seq2Seq ConvGRU on the synthetic benchmark
#   synthetic-stacked  the same for the stacked-frame AE
#   synthetic-unet     the same for the U-Net predictor, 32 and 16 base filters (the bundled demo model)
#   ped2-frame         BCAE1 (+ SVDD), SSA CAE, MemAE on UCSD Ped2      (needs .carry/ped2_128x128.npz,
#   ped2-temporal      ConvGRU AE, Seq2Seq ConvGRU on UCSD Ped2          made by benchmarks/make_cache.py)
#   ped2-unet          the U-Net predictor, 64 and 32 base filters, on UCSD Ped2
#   explain-speed      benchmarks/explain_speed.py on CUDA               (needs .carry/whl)
#   batch              benchmarks/batch.py: vad batch's defaults against no decoder tasks, 64-filter
#                      U-Net, 192 clips of 1,000 frames, batch 64 and 128  (needs .carry/whl_ray)
#
# Environment: SECONDS_PER_MODEL caps each training (default per step below); CLIPS, BATCHES and
# LAYOUTS change the batch step. Packages the machine lacks travel as wheels made here by
# benchmarks/make_device_wheels.sh. Trained checkpoints (weights + JSON) come back in $OUT as one
# tarball per run, or with COPY_EACH=1 as single files (weights over 15 MiB in parts: cat NAME.part*).
# How each number was measured, and the logs: docs/results/README.md and docs/batch-measurements.md.
set -euo pipefail
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/runs
install_wheels() {  # $1: a folder of wheels carried to the device
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$1"/*.whl
  export PYTHONPATH=.:/tmp/site
}
train() {  # $1: data, $2: default seconds per model, then train_experiments.py's options
  local data=$1 seconds=$2
  shift 2
  python3 benchmarks/train_experiments.py --data "$data" --max-seconds "${SECONDS_PER_MODEL:-$seconds}" "$@"
}
ped2=.carry/ped2_128x128.npz
[ $# -ge 1 ] || { sed -n '2,23p' "$0"; exit 2; }
for step in "$@"; do
echo "=== $step ($(date +%T))"
case "$step" in
  gpu-checks)
    python3 -m pytest -q -p no:cacheprovider tests/test_gpu_checks.py ;;
  throughput)
    python3 benchmarks/throughput.py --models bcae1 cgru_ae seq2seq_cgru --device cuda --frames 20000 --seconds 5
    python3 benchmarks/throughput.py --models unet_predictor --device cuda --frames 4000 --seconds 5 ;;
  synthetic)
    train synthetic 100 --models bcae1 cgru_ae seq2seq_cgru --out /tmp/runs/synthetic ;;
  synthetic-stacked)
    train synthetic 60 --models stacked_ae --out /tmp/runs/synthetic ;;
  synthetic-unet)
    train synthetic 90 --models unet_predictor:base_filters=32 unet_predictor:base_filters=16 \
      --loss mse+gradient --strides 1 --out /tmp/runs/synthetic ;;
  ped2-frame)
    train $ped2 90 --models bcae1 ssa_cae memae --svdd bcae1 --out /tmp/runs/ped2 ;;
  ped2-temporal)
    train $ped2 150 --models cgru_ae seq2seq_cgru --out /tmp/runs/ped2 ;;
  ped2-unet)  # Liu et al.'s predictor: consecutive frames, intensity + gradient loss
    train $ped2 200 --models unet_predictor unet_predictor:base_filters=32 --loss mse+gradient --strides 1 \
      --out /tmp/runs/ped2 ;;
  explain-speed)
    install_wheels .carry/whl
    python3 benchmarks/explain_speed.py --device cuda ;;
  batch)
    install_wheels .carry/whl_ray
    # word-split on purpose: BATCHES and LAYOUTS are lists
    python3 benchmarks/batch.py --device cuda --model unet_predictor --clips "${CLIPS:-192}" --frames 1000 \
      --cpus 16 --seconds 3 --batch ${BATCHES:-64 128} ${LAYOUTS:-auto 1x3@2048} ;;
  *) echo "unknown step $step"; exit 2 ;;
esac
done
if [ "${COPY_EACH:-0}" = 1 ]; then
  for weights in $(find /tmp/runs -name '*.safetensors' ! -name '*.state.*'); do
    base=$(basename "$(dirname "$weights")")_$(basename "$weights" .safetensors)
    cp "${weights%.safetensors}.json" "$OUT/$base.json"
    if [ "$(stat -c %s "$weights")" -gt $((15 * 1024 * 1024)) ]; then
      split -b 15M -d "$weights" "$OUT/$base.safetensors.part"
    else
      cp "$weights" "$OUT/$base.safetensors"
    fi
  done
elif [ -n "$(find /tmp/runs -name '*.safetensors' 2>/dev/null | head -1)" ]; then
  (cd /tmp/runs && find . -name '*.safetensors' ! -name '*.state.*' -o -name '*.json' ! -name '*.state.*' \
     | tar -czf "$OUT/checkpoints_$step.tgz" -T -)
fi
