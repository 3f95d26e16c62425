#!/usr/bin/env bash
# End-to-end at 30 FPS on the real pictures with the real-world model, interleaved
# (benchmarks/e2e_arms.sh): the controller's timer at 30 Hz (the default: one cycle per frame)
# against 50 Hz (the former default: a second cycle 20 ms after each frame's, inside the next
# frame's inference).
#   ROUNDS=5 OUT=benchmarks/results/e2e_rate_ab benchmarks/e2e_rate_ab.sh
set -euo pipefail
REAL=package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx
OUT=${OUT:-benchmarks/results/e2e_rate_ab} ROUNDS=${ROUNDS:-5} exec "$(dirname "${BASH_SOURCE[0]}")/e2e_arms.sh" \
  "rate30=--frames real --model $REAL --set controller.rate_hz=30.0" \
  "rate50=--frames real --model $REAL --set controller.rate_hz=50.0"
