#!/usr/bin/env bash
# Builds the desktop bundle dist/vad-review/ (PyInstaller, one folder: the `vad-review` window and the
# `vad` command line), self-tests it and prints its size, the build time and the start-up time.
#
#   packaging/build_bundle.sh [--cuda] [--no-self-test] [--test-only]
# (--test-only skips the build and checks, self-tests and times the existing dist/vad-review/)
#
# Run it from the repository with the project's virtual environment active; it needs the
# `packaging` extra (and `xai`, bundled by default):  pip install -e ".[packaging,xai]"
#
# CPU bundle (the default, ~1.4 GB with the xai extra): the environment's torch is bundled, so install the CPU wheel:
#   python3 -m venv .venv && . .venv/bin/activate
#   pip install torch --index-url https://download.pytorch.org/whl/cpu   # (or torch==2.13.0 here)
#   pip install -e ".[packaging,xai]" && packaging/build_bundle.sh
# VAD_BUNDLE_EXTRAS (default "xai": SHAP/LIME for the explain panel; "none"; "xai,batch" adds Ray)
# chooses the optional libraries bundled; they must be installed in the environment.
#
# CUDA bundle (several GB: cuDNN, cuBLAS, ... come along): the same spec, built from a virtual
# environment holding a CUDA torch wheel; --cuda only refuses to build if torch has no CUDA:
#   python3 -m venv .venv-cuda && . .venv-cuda/bin/activate
#   pip install torch --index-url https://download.pytorch.org/whl/cu126
#   pip install -e ".[packaging,xai]" && packaging/build_bundle.sh --cuda
# The CUDA bundle needs an NVIDIA driver on the target machine (not the CUDA toolkit); without a GPU
# it still runs, on the CPU. Build each bundle on the OS it is for (PyInstaller does not cross-build).
#
# Afterwards, on Linux, packaging/install_desktop_entry.sh adds the menu entry and icon.
set -euo pipefail
cd "$(dirname "$0")/.."

want_cuda=0
self_test=1
test_only=0
for arg in "$@"; do
  case "$arg" in
    --cuda) want_cuda=1 ;;
    --no-self-test) self_test=0 ;;
    --test-only) test_only=1 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python}
"$python" -c "import PyInstaller" 2>/dev/null || {
  echo "PyInstaller is missing: pip install -e \".[packaging]\"" >&2; exit 2; }
torch_build=$("$python" -c "import torch; print(torch.version.cuda or 'cpu')")
echo "== torch $("$python" -c 'import torch; print(torch.__version__)') (build: $torch_build), $("$python" -V)"
if [[ $want_cuda == 1 && $torch_build == cpu ]]; then
  echo "--cuda: this environment's torch is a CPU build; install a CUDA wheel first (see --help)" >&2
  exit 2
fi

case "$(uname -s)" in
  MINGW*|MSYS*|CYGWIN*) exe=.exe ;;
  *) exe= ;;
esac
bundle=dist/vad-review
build_s=0
if [[ $test_only == 0 ]]; then
  rm -rf build/pyinstaller "$bundle"
  echo "== building $bundle (PyInstaller $("$python" -m PyInstaller --version))"
  start=$(date +%s)
  "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/vad-review.spec
  build_s=$(( $(date +%s) - start ))
fi
[[ -x $bundle/vad-review$exe ]] || { echo "no bundle at $bundle" >&2; exit 1; }

# The Linux desktop entry and icons travel with the bundle (install_desktop_entry.sh installs them).
if [[ $(uname -s) == Linux ]]; then
  mkdir -p "$bundle/share/applications"
  cp packaging/vad-review.desktop "$bundle/share/applications/"
  for png in resources/icons/vad-review-*.png; do
    size=${png##*-}; size=${size%.png}
    mkdir -p "$bundle/share/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$bundle/share/icons/hicolor/${size}x${size}/apps/vad-review.png"
  done
  mkdir -p "$bundle/share/icons/hicolor/scalable/apps"
  cp resources/icons/vad-review.svg "$bundle/share/icons/hicolor/scalable/apps/vad-review.svg"
fi

# Nothing from ../shared and nothing from MVTec may ship (the spec checks its inputs; this the output).
# (vad_core/datasets/mvtec.py, the dataset reader, is code and lives inside the programs' archive.)
mvtec=$(find "$bundle" -ipath '*mvtec*' ! -name '*.py' ! -name '*.pyc')
if [[ -n $mvtec ]]; then
  echo "FAILED: the bundle contains MVTec files:" >&2; echo "$mvtec" >&2; exit 1
fi
for required in vad_resources/models/demo_bcae1.safetensors vad_resources/models/demo_bcae1.json \
                vad_resources/help/guide.html vad_resources/icons/vad-review-256.png; do
  [[ -f $bundle/_internal/$required ]] || { echo "FAILED: $required is missing" >&2; exit 1; }
done

size=$(du -sh "$bundle" | cut -f1)
files=$(find "$bundle" -type f | wc -l)
echo "== built in ${build_s} s: $bundle is $size ($files files); largest parts:"
du -sh "$bundle"/_internal/* 2>/dev/null | sort -rh | sed -n '1,8s/^/   /p'

"$bundle/vad$exe" --help > /dev/null && echo "== $bundle/vad$exe --help: ok"

status=0
mkdir -p build
if [[ $self_test == 1 ]]; then
  echo "== self-test of the bundle"
  t0=$("$python" -c 'import time; print(time.time())')
  if QT_QPA_PLATFORM=offscreen VAD_REVIEW_NO_USER_SETTINGS=1 "$bundle/vad-review$exe" --self-test \
       | tee build/self_test.log; then
    result=passed
  else
    result=FAILED; status=1
  fi
  if [[ ,${VAD_BUNDLE_EXTRAS-xai}, == *,xai,* ]] && ! grep -q 'explanation methods (xai extra): shap, lime, skimage available; explained' build/self_test.log; then
    echo "FAILED: the xai extra was asked for but SHAP/LIME are not in the bundle" >&2
    result=FAILED; status=1
  fi
  self_test_s=$("$python" -c "import time; print(f'{time.time() - $t0:.1f}')")
  echo "== self-test $result in ${self_test_s} s"
  echo "== start-up (offscreen, 3 runs): time from process start to the first painted splash / window"
  for _ in 1 2 3; do
    QT_QPA_PLATFORM=offscreen VAD_REVIEW_NO_USER_SETTINGS=1 VAD_REVIEW_QUIT_AFTER_PAINT=1 \
      "$bundle/vad-review$exe" --print-startup-time | grep '^startup-time' | sed 's/^/   /' || status=1
  done
fi

[[ $test_only == 1 ]] && build_s="(skipped: --test-only) 0"
echo "== summary: bundle $size, build ${build_s} s, self-test ${result:-skipped}${self_test_s:+ (${self_test_s} s)}, torch build $torch_build"
exit $status
