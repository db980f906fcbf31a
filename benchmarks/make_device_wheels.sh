#!/usr/bin/env bash
# Wheels the lent GPU machine lacks (it has Python 3.12 and no network), for benchmarks/gpu_session.sh:
#   .carry/whl      shap, slicer, lime             (step explain-speed)
#   .carry/whl_ray  Ray without its Java jars, jsonschema and the small packages Ray needs  (batch steps)
# Ray's wheel is repacked without ray/jars (33 MB, Java workers only) and source maps so that the
# checkout plus the wheels stay under the device tool's 64 MiB transfer limit. Run from the repo root.
set -euo pipefail
RAY_VERSION=${RAY_VERSION:-$(python3 -c 'import ray; print(ray.__version__)' 2>/dev/null || echo 2.60.0)}
platform=(--only-binary=:all: --python-version 3.12 --implementation cp
          --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p .carry/whl .carry/whl_ray
rm -f .carry/whl/*.whl .carry/whl_ray/*.whl
pip download -q --no-deps "${platform[@]}" shap==0.51.0 slicer==0.0.8 -d .carry/whl
pip wheel -q --no-deps lime==0.2.0.1 -w .carry/whl            # lime ships no wheel on PyPI

pip download -q "${platform[@]}" "ray==$RAY_VERSION" -d "$work/dl"
for name in jsonschema jsonschema_specifications referencing rpds_py attrs msgpack click; do
  cp "$work"/dl/"$name"-*.whl .carry/whl_ray/
done
mkdir "$work/ray" && (cd "$work/ray" && unzip -q "$work"/dl/ray-*.whl)
rm -rf "$work/ray/ray/jars" && find "$work/ray" -name '*.js.map' -delete
record=$(ls "$work"/ray/ray-*.dist-info/RECORD)
(cd "$work/ray" && python3 - "$record" <<'PY'
import os, sys
path = sys.argv[1]
lines = [line for line in open(path).read().splitlines() if line.strip()]
kept = [line for line in lines if os.path.exists(line.split(",")[0]) or line.split(",")[0].endswith("RECORD")]
open(path, "w").write("\n".join(kept) + "\n")
PY
)
wheel=$(basename "$work"/dl/ray-*.whl)
(cd "$work/ray" && zip -q -r -9 "$OLDPWD/.carry/whl_ray/$wheel" .)
du -sh .carry/whl .carry/whl_ray
