#!/usr/bin/env bash
# What was run on the lent H100 (device tool) for the README's numbers. Usage, from the repo root there:
#   bash benchmarks/gpu_session.sh STEP [STEP ...]   (steps: see the case below)
# Writes checkpoints to /tmp/runs and a tarball of them (weights + JSON, no training state) to $OUT.
# Packages the device lacks travel as wheels (made by benchmarks/make_device_wheels.sh): .carry/whl (shap, slicer, lime) for explain-speed,
# .carry/whl_ray (Ray without its Java jars, jsonschema and its needs) for batch.
set -euo pipefail
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/runs
install_wheels() {  # $1: a folder of wheels carried to the device
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$1"/*.whl
  export PYTHONPATH=.:/tmp/site
}
[ $# -ge 1 ] || { echo "usage: $0 STEP [STEP ...]"; exit 2; }
for step in "$@"; do
echo "=== $step ($(date +%T))"
case "$step" in
  throughput)
    python3 benchmarks/throughput.py --models bcae1 cgru_ae seq2seq_cgru --device cuda --frames 20000 --seconds 5 ;;
  synthetic)
    python3 benchmarks/train_experiments.py --data synthetic --models bcae1 cgru_ae seq2seq_cgru \
      --max-seconds "${SECONDS_PER_MODEL:-100}" --out /tmp/runs/synthetic ;;
  synthetic-predictors)
    python3 benchmarks/train_experiments.py --data synthetic \
      --models seq2seq_cgru:recurrent_layers=3 seq2seq_cgru:recurrent_layers=2,recurrent_decoder=true stacked_ae \
      --max-seconds "${SECONDS_PER_MODEL:-80}" --out /tmp/runs/synthetic ;;
  ped2-frame)
    python3 benchmarks/train_experiments.py --data .carry/ped2_128x128.npz --models bcae1 ssa_cae memae \
      --svdd bcae1 --max-seconds "${SECONDS_PER_MODEL:-90}" --out /tmp/runs/ped2 ;;
  ped2-temporal)
    python3 benchmarks/train_experiments.py --data "${PED2:-.carry/ped2_128x128.npz}" --models cgru_ae seq2seq_cgru \
      --max-seconds "${SECONDS_PER_MODEL:-150}" --out /tmp/runs/ped2 ;;
  synthetic-stacked)
    python3 benchmarks/train_experiments.py --data synthetic --models stacked_ae \
      --max-seconds "${SECONDS_PER_MODEL:-60}" --out /tmp/runs/synthetic ;;
  ped2-unet)  # Liu et al.'s predictor: consecutive frames, intensity + gradient loss
    python3 benchmarks/train_experiments.py --data .carry/ped2_128x128.npz \
      --models unet_predictor unet_predictor:base_filters=32 --loss mse+gradient --strides 1 \
      --max-seconds "${SECONDS_PER_MODEL:-200}" --out /tmp/runs/ped2 ;;
  synthetic-unet)
    python3 benchmarks/train_experiments.py --data synthetic \
      --models unet_predictor:base_filters=32 unet_predictor:base_filters=16 --loss mse+gradient --strides 1 \
      --max-seconds "${SECONDS_PER_MODEL:-90}" --out /tmp/runs/synthetic ;;
  throughput-bcae1)  # the model alone and the whole score_all path, BCAE1 only
    python3 benchmarks/throughput.py --models bcae1 --device cuda --frames 20000 --seconds 5 ;;
  throughput-unet)
    python3 benchmarks/throughput.py --models unet_predictor --device cuda --frames 4000 --seconds 5 ;;
  explain-speed)
    install_wheels .carry/whl
    python3 benchmarks/explain_speed.py --device cuda ;;
  batch)
    install_wheels .carry/whl_ray
    common="--device cuda --clips ${CLIPS:-16} --frames ${FRAMES:-1000} --cpus 16"
    python3 benchmarks/batch_throughput.py $common --workers 1 4 --gpus-per-task 0.25 --threads 4
    python3 benchmarks/batch_throughput.py $common --workers 8 --gpus-per-task 0.125 --threads 2 --no-maps ;;
  batch-decoders)  # CPU tasks decode for the GPU workers (1 CPU each); 1 and 2 workers, then without maps
    common="--device cuda --clips ${CLIPS:-16} --frames ${FRAMES:-1000} --cpus 16"
    python3 benchmarks/batch_throughput.py $common --workers 1 2 --gpus-per-task 0.5 --decoders 14
    python3 benchmarks/batch_throughput.py $common --workers 1 --no-maps --decoders 15 ;;
  check-device-path)  # scores of the device-side path (reduction on the GPU, read-ahead) against the host path
    python3 benchmarks/device_path_check.py ;;
  batch-resident)  # BCAE1 (light: decoding-bound at this size), one actor with 8 threads, then 4 and 8 actors
    install_wheels .carry/whl_ray
    common="--device cuda --clips ${CLIPS:-16} --frames ${FRAMES:-1000} --cpus 16"
    python3 benchmarks/batch_throughput.py $common --workers 1 --threads 8
    python3 benchmarks/batch_throughput.py $common --workers 4 8 --gpus-per-task 0.125 --threads 2 ;;
  batch-resident-unet)  # the 64-filter U-Net (GPU-bound); uncompressed footage (decoding nearly free)
    install_wheels .carry/whl_ray
    common="--device cuda --clips ${CLIPS:-16} --frames ${FRAMES:-1000} --cpus 16"
    python3 benchmarks/batch_throughput.py $common --model unet_predictor --workers 1 2 --gpus-per-task 0.5 --threads 4
    # uncompressed footage: decoding nearly free, so the scoring path itself is measured against the model
    python3 benchmarks/batch_throughput.py $common --codec raw --workers 1 4 --gpus-per-task 0.25 --threads 4 ;;
  worker-probe)  # where a batch actor loses frames/s: decoding in its threads, warm-up, or Ray
    install_wheels .carry/whl_ray
    python3 benchmarks/worker_probe.py --device cuda --model unet_predictor --concurrency 1 2 --ray --cpus 16 ;;
  batch-warm)  # workers warmed up at start; decoder tasks feed them; default chunks (2048) and 256
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor 1x2@2048+14 1x1@2048+15 1x2@256+14 1x2@2048
    python3 benchmarks/batch_sweep.py --device cuda --model bcae1 4x4@2048 1x2@2048+14 2x2@2048+12 ;;
  decoder-count)  # next: how many decoder tasks feed the U-Net actor without taking its cores (64 clips)
    install_wheels .carry/whl_ray
    python3 benchmarks/decoder_threads.py --cpus 14 --rounds 3
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips 64 \
      1x4@2048 1x2@2048+4 1x2@2048+6 1x2@2048+8 1x4@2048+4 ;;
  batch-size)  # the U-Net at batch 32, 128 and 256 (the model alone at each): fewer, larger kernel launches
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips 64 --seconds 3 \
      1x4@2048 1x2@2048+6 --batch 32 128 256 ;;
  graphs-check)  # CUDA graphs: scores equal to eager for every model, and the speed-up
    python3 benchmarks/cuda_graph_check.py --batch 32 128 --frames 800 --seconds 2 ;;
  graphs-sweep)  # the U-Net in vad batch at batch 32 and 128, graphs off and on (64 clips)
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips 64 --seconds 3 \
      1x4@2048 1x2@2048+6 --batch 32 128 --graphs on off ;;
  graphs-streams)  # after: one recording at a time, a CUDA stream per scoring thread (batch 128, 64 clips)
    python3 benchmarks/cuda_graph_check.py --models bcae1 cgru_ae unet_predictor --batch 128 --frames 800 \
      --alone unet_predictor --seconds 2
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips 64 --seconds 3 \
      1x2@2048+6 1x4@2048+6 --batch 128 --graphs on off ;;
  streams-batches)  # a CUDA stream per scoring thread, graphs off: batch 32, 64 and 128 (64 clips)
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips 64 --seconds 3 \
      1x2@2048+6 --batch ${BATCHES:-32 64 128} ;;  # word-split on purpose
  mid-run)  # call 23: a longer archive (192 x 1,000 frames), whole-run and mid-run rates, GPU busy; batch 64, 128
    # (the sweep then kept every run's results on disk; it now deletes them after each run)
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips "${CLIPS:-192}" --seconds 3 \
      1x2@2048+6 1x3@2048+6 --batch ${BATCHES:-64 128} ;;  # word-split on purpose
  writes)  # the disk's fsync'd write rate, then batch 64 and 128 with maps on and off (192 clips; each
    # run's results are deleted after it, so that none pays for an earlier run's writing)
    dd if=/dev/zero of=/tmp/dd.test bs=1M count=2048 conv=fsync 2>&1 | tail -1; rm -f /tmp/dd.test
    install_wheels .carry/whl_ray
    python3 benchmarks/batch_sweep.py --device cuda --model unet_predictor --clips "${CLIPS:-192}" --seconds 3 \
      ${LAYOUTS:-1x2@2048+6} --batch ${BATCHES:-64 128} --maps ${MAPS:-on off} ;;  # word-split on purpose
  *) echo "unknown step $step"; exit 2 ;;
esac
done
# Each checkpoint comes back as its own files ($OUT takes at most 8 files of 16 MiB each); weights over
# 15 MiB come in parts (cat NAME.safetensors.part* > NAME.safetensors).
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
  exit 0
fi
if [ -d /tmp/runs ]; then
  (cd /tmp/runs && find . -name '*.safetensors' ! -name '*.state.*' -o -name '*.json' ! -name '*.state.*' \
     | tar -czf "$OUT/checkpoints_$step.tgz" -T -)
fi
