#!/usr/bin/env bash
# End-to-end at 30 FPS, interleaved (benchmarks/e2e_arms.sh): the real-world model's graph as
# shipped, the detector under SCHED_FIFO 10 (chrt; every thread of the process, OpenVINO's
# included), and that with the camera at FIFO 20 above it (so a frame is not held back while the
# detector has both cores). Needs CAP_SYS_NICE (root here).
#   ROUNDS=4 OUT=benchmarks/results/e2e_fifo_ab benchmarks/e2e_fifo_ab.sh
set -euo pipefail
real="--frames real --model package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx"
OUT=${OUT:-benchmarks/results/e2e_fifo_ab} ROUNDS=${ROUNDS:-4} exec "$(dirname "${BASH_SOURCE[0]}")/e2e_arms.sh" \
  "shipped=$real" \
  "detector_fifo=$real --sched detector=fifo:10" \
  "camera_and_detector_fifo=$real --sched camera=fifo:20 --sched detector=fifo:10"
