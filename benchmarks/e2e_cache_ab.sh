#!/usr/bin/env bash
# End-to-end at 30 FPS on the real pictures, interleaved (benchmarks/e2e_arms.sh):
#   real_c0   = the real-world model, the camera decoding every frame on every lap (folder_cache_mb:=0)
#   real_c256 = the real-world model, the camera's default folder cache
#   sim_c256  = the simulator model, same frames and cache
#   ROUNDS=4 OUT=benchmarks/results/e2e_cache_ab benchmarks/e2e_cache_ab.sh
set -euo pipefail
REAL=package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx
SIM=package://edge_rover/models/edge_rover_yolov8n_int8.onnx
OUT=${OUT:-benchmarks/results/e2e_cache_ab} ROUNDS=${ROUNDS:-4} exec "$(dirname "${BASH_SOURCE[0]}")/e2e_arms.sh" \
  "real_c0=--frames real --model $REAL --camera-cache-mb 0" \
  "real_c256=--frames real --model $REAL --camera-cache-mb 256" \
  "sim_c256=--frames real --model $SIM --camera-cache-mb 256"
