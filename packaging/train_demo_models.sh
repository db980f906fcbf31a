#!/usr/bin/env bash
# Reproduces the bundled demo checkpoints in resources/models/ from the built-in synthetic benchmark.
# The shipped ones were trained on an H100 (benchmarks/gpu_session.sh synthetic / synthetic-unet:
# BCAE1 stopped early after 184 epochs, the 16-filter U-Net predictor after 60, 52 s); on a CPU this
# takes hours.
#   bash packaging/train_demo_models.sh [DEVICE]
set -euo pipefail
device=${1:-auto}
data=$(mktemp -d)
python -m vad_core demo --no-score --out "$data"            # writes the seed-0 synthetic benchmark
python -m vad_core train --model bcae1 --data "$data" --out resources/models/demo_bcae1 \
  --epochs 300 --max-windows 6000 --device "$device"
python -m vad_core train --model unet_predictor --option base_filters=16 --data "$data" \
  --out resources/models/demo_unet_predictor --epochs 300 --max-windows 6000 --device "$device"
rm -f resources/models/*.state.*
