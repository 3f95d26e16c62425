#!/usr/bin/env bash
# Runs the whole suite (lint included, as tests/test_lint.py). pytest's "no tests collected"
# (exit 5) is a failure here: a suite that ran nothing must never look green.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
timeout -k 30 1500 python -m pytest "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "run_tests: pytest collected no tests — treating as failure" >&2
  exit 1
fi
exit $rc
