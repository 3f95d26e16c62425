#!/usr/bin/env bash
# Interleaved end-to-end runs at 30 FPS, 20 s each, separate processes: every arm once per round
# (A, B, ..., A, B, ...), so a change in the host's speed hits all arms alike; then one table.
# An arm is NAME=ARGS, ARGS being benchmarks/e2e_latency.py options (split on spaces):
#   OUT=/tmp/ab ROUNDS=4 benchmarks/e2e_arms.sh 'a=--frames real' 'b=--frames real --set controller.rate_hz=50.0'
# Writes OUT/NAME_ROUND.json (and the runs' output in OUT/logs/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/ros_env.sh
: "${OUT:?set OUT to the results folder}"
ROUNDS=${ROUNDS:-4}
mkdir -p "$OUT/logs"
for i in $(seq 1 "$ROUNDS"); do
  for arm in "$@"; do
    name=${arm%%=*}
    read -r -a extra <<<"${arm#*=}"
    timeout -k 10 180 python -m benchmarks.e2e_latency --fps 30 --seconds 20 --modes separate "${extra[@]}" \
      --out "$OUT/${name}_$i.json" >"$OUT/logs/${name}_$i.log" 2>&1
    echo "$name, round $i: $(uptime)"
  done
done
python -m benchmarks.e2e_latency --summarize "$OUT"
