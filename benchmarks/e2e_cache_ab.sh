#!/usr/bin/env bash
# End-to-end at 30 FPS on the real pictures, interleaved A, B, C, A, B, C, ...:
#   real_c0   = the real-world model, the camera decoding every frame on every lap (folder_cache_mb:=0)
#   real_c256 = the real-world model, the camera's default folder cache
#   sim_c256  = the simulator model, same frames and cache
#   ROUNDS=4 OUT=benchmarks/results/e2e_cache_ab benchmarks/e2e_cache_ab.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/ros_env.sh
OUT=${OUT:-benchmarks/results/e2e_cache_ab}
ROUNDS=${ROUNDS:-4}
REAL=package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx
SIM=package://edge_rover/models/edge_rover_yolov8n_int8.onnx
mkdir -p "$OUT"
for i in $(seq 1 "$ROUNDS"); do
  for arm in real_c0 real_c256 sim_c256; do
    case $arm in real_c0) model=$REAL cache=0 ;; real_c256) model=$REAL cache=256 ;; *) model=$SIM cache=256 ;; esac
    timeout -k 10 180 python -m benchmarks.e2e_latency --fps 30 --seconds 20 --modes separate --frames real \
      --model "$model" --camera-cache-mb "$cache" --out "$OUT/${arm}_$i.json" >"$OUT/${arm}_$i.log" 2>&1
    echo "$arm $i: $(uptime)"
  done
done
python -m benchmarks.e2e_latency --summarize "$OUT"
