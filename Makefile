# The two commands (see README): `make demo` runs the main job, `make test` runs the suite.
# Both set themselves up first (tools/setup_env.sh is idempotent).
SHELL := /bin/bash
.PHONY: setup demo test lint format sweep train-env

setup:
	@tools/setup_env.sh

demo: setup
	@. tools/ros_env.sh && python -m edge_rover.tools.demo $(if $(BAG),--bag "$(BAG)") $(if $(SCENARIO),--scenario "$(SCENARIO)") $(if $(LOCK_STEP),--lock-step)

test: setup
	@. tools/ros_env.sh && tools/run_tests.sh $(ARGS)

lint: setup
	@. tools/ros_env.sh && ruff check . && ruff format --check .

format: setup
	@. tools/ros_env.sh && ruff format . && ruff check --fix .

# The training/export extra (torch, ultralytics, NNCF: several GB, CPU only) in its own venv, never
# in the runtime: `make train-env` once before dev/train_detector.py or the benchmarks that need it
# (docs/models.md). Neither `make demo` nor `make test` uses it.
TRAIN_VENV ?= /work/venv-train
train-env:
	@test -x $(TRAIN_VENV)/bin/python || python3.11 -m venv $(TRAIN_VENV)
	@$(TRAIN_VENV)/bin/pip install -q -r requirements/train.txt

# Randomized scenario sweep on Ray (docs/sweeps.md): make sweep RUNS=40 OUT=/tmp/sweep [ADDRESS=ray://host:10001] [DIST=file]
# Installs the optional sweep extra (requirements/sweep.txt: ray, pinned) into the venv first.
RUNS ?= 40
OUT ?= out/sweep
sweep: setup
	@. tools/ros_env.sh && python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -r requirements/sweep.txt
	@. tools/ros_env.sh && python -m edge_rover.simulation.sweep --runs "$(RUNS)" --out "$(OUT)" $(if $(ADDRESS),--address "$(ADDRESS)") $(if $(DIST),--dist "$(DIST)") $(SWEEP_ARGS)
