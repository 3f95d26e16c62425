#!/usr/bin/env bash
# End-to-end at 30 FPS on the real pictures with the real-world model, the controller's timer at
# 30 Hz (the default: one cycle per frame) against 50 Hz (the former default: a second cycle 20 ms
# after each frame's, inside the next frame's inference), interleaved A, B, A, B, ...
#   ROUNDS=5 OUT=benchmarks/results/e2e_rate_ab benchmarks/e2e_rate_ab.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/ros_env.sh
OUT=${OUT:-benchmarks/results/e2e_rate_ab}
ROUNDS=${ROUNDS:-5}
REAL=package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx
mkdir -p "$OUT"
for i in $(seq 1 "$ROUNDS"); do
  for rate in 30 50; do
    timeout -k 10 180 python -m benchmarks.e2e_latency --fps 30 --seconds 20 --modes separate --frames real \
      --model "$REAL" --set "controller.rate_hz=$rate.0" --out "$OUT/rate${rate}_$i.json" >"$OUT/rate${rate}_$i.log" 2>&1
    echo "rate $rate Hz, round $i: $(uptime)"
  done
done
python -m benchmarks.e2e_latency --summarize "$OUT"
