#!/usr/bin/env bash
# What was run on the lent H100 (device tool) for the README's numbers. Usage, from the repo root there:
#   bash benchmarks/gpu_session.sh synthetic|ped2-frame|ped2-temporal|throughput
# Writes checkpoints to /tmp/runs and a tarball of them (weights + JSON, no training state) to $OUT.
set -euo pipefail
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/runs
step=${1:?synthetic|synthetic-predictors|ped2-frame|ped2-temporal|throughput}
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
esac
# Each checkpoint comes back as its own two files ($OUT takes at most 8 files of 16 MiB each).
if [ "${COPY_EACH:-0}" = 1 ]; then
  for weights in $(find /tmp/runs -name '*.safetensors' ! -name '*.state.*'); do
    base=$(basename "$(dirname "$weights")")_$(basename "$weights" .safetensors)
    cp "$weights" "$OUT/$base.safetensors"; cp "${weights%.safetensors}.json" "$OUT/$base.json"
  done
  exit 0
fi
if [ -d /tmp/runs ]; then
  (cd /tmp/runs && find . -name '*.safetensors' ! -name '*.state.*' -o -name '*.json' ! -name '*.state.*' \
     | tar -czf "$OUT/checkpoints_$step.tgz" -T -)
fi
