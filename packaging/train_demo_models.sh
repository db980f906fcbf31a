#!/usr/bin/env bash
# Reproduces the bundled demo checkpoints in resources/models/ from the built-in synthetic benchmark.
# The shipped ones were trained on an H100 (benchmarks/gpu_session.sh synthetic / synthetic-stacked:
# BCAE1 stopped early after 184 epochs, the stacked-frame AE ran 67 epochs); on a CPU this takes hours.
#   bash packaging/train_demo_models.sh [DEVICE]
set -euo pipefail
device=${1:-auto}
data=$(mktemp -d)
python -m vad_core demo --no-score --out "$data"            # writes the seed-0 synthetic benchmark
python -m vad_core train --model bcae1 --data "$data" --out resources/models/demo_bcae1 \
  --epochs 300 --max-windows 6000 --device "$device"
python -m vad_core train --model stacked_ae --data "$data" --out resources/models/demo_stacked_ae \
  --epochs 67 --max-windows 6000 --device "$device"
rm -f resources/models/*.state.*
