#!/usr/bin/env bash
# End-to-end A/B/C at 30 FPS, interleaved (A, B, C, A, B, C): A = the sim model on an older checkout,
# B = the sim model on this one, C = the real-world model on this one; same frames for all.
#   OLD=/path/to/old/checkout FRAMES=/path/to/640x480/frames OUT=/tmp/ab benchmarks/e2e_ab.sh
# OLD needs its own venv (run tools/setup_env.sh there once): `ros2 run` starts the installed package.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${OLD:?set OLD to the older checkout}" "${FRAMES:?set FRAMES to a folder of 640x480 frames}"
OUT=${OUT:-/tmp/ab}
mkdir -p "$OUT"
run() {  # checkout, name, extra args
  (cd "$1" && . tools/ros_env.sh && timeout -k 10 180 python -m benchmarks.e2e_latency --fps 30 --seconds 20 \
    --modes separate --frames "$FRAMES" --out "$OUT/$2.json" "${@:3}" >"$OUT/$2.log" 2>&1)
}
for i in 1 2; do
  run "$OLD" "old_$i"
  run "$HERE" "new_$i"
  run "$HERE" "real_$i" --model package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx
  uptime
done
