#!/usr/bin/env bash
# GPU check, one short prepared run on a machine with an NVIDIA GPU (x86 + CUDA 12 driver):
#   benchmarks/gpu_check.sh [extra args for benchmarks/gpu_check.py]
# 1. a throwaway venv with onnxruntime-gpu + the TensorRT wheels from PyPI (nothing else is
#    carried or installed: numpy/OpenCV/PyYAML at the project's pins);
# 2. python -m benchmarks.gpu_check: builds the TensorRT engine from the shipped QDQ model into a
#    fresh cache (timed), reloads it from the cache, compares detections on the real images with
#    CPU ONNX Runtime (same class, IoU >= 0.9 on >= 98 % of boxes) and prints p50/p99 + build
#    time as JSON (benchmarks/results/gpu_check.json). Exit 1 when the agreement gate fails.
# On a Jetson use the JetPack wheels instead (docs/jetson.md) and run step 2 directly.
# Versions: ONNX Runtime 1.22 is built against TensorRT 10.9 / CUDA 12 (onnxruntime.ai TensorRT EP
# requirements table); its TensorRT EP loads libnvinfer from LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ORT_GPU=${ORT_GPU:-onnxruntime-gpu==1.22.0}
TRT_WHEEL=${TRT_WHEEL:-tensorrt-cu12==10.9.0.34}
VENV=${GPU_CHECK_VENV:-/tmp/edge_rover_gpu_venv}
PYTHON=${PYTHON:-python3}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader ||
  echo "gpu_check: nvidia-smi not found; the check needs an NVIDIA GPU and driver" >&2
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
pins() { grep -E "^($1)==" requirements/runtime.txt; }
t0=$(date +%s)
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "$ORT_GPU" "$TRT_WHEEL" $(pins 'numpy|opencv-python-headless|PyYAML') "nvidia-cudnn-cu12==9.*" \
  "nvidia-cuda-runtime-cu12==12.*" "nvidia-cublas-cu12==12.*" "nvidia-cufft-cu12==11.*" "nvidia-curand-cu12==10.*"
echo "gpu_check: installed in $(( $(date +%s) - t0 )) s" >&2
# The wheels' shared libraries (libnvinfer, cuDNN, cuBLAS, ...) for the TensorRT and CUDA EPs.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
libs=$(find "$site/tensorrt_libs" "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$VENV/bin/python" -c 'import onnxruntime as o, tensorrt as t; print("onnxruntime", o.__version__, o.get_available_providers(), "tensorrt", t.__version__)'
PYTHONPATH=$PWD exec "$VENV/bin/python" -m benchmarks.gpu_check "$@"
