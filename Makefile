# The two commands (see README): `make demo` runs the main job, `make test` runs the suite.
# Both set themselves up first (tools/setup_env.sh is idempotent).
SHELL := /bin/bash
.PHONY: setup demo test lint format

setup:
	@tools/setup_env.sh

demo: setup
	@. tools/ros_env.sh && python -m edge_rover.tools.demo $(if $(BAG),--bag "$(BAG)") $(if $(SCENARIO),--scenario "$(SCENARIO)")

test: setup
	@. tools/ros_env.sh && tools/run_tests.sh $(ARGS)

lint: setup
	@. tools/ros_env.sh && ruff check . && ruff format --check .

format: setup
	@. tools/ros_env.sh && ruff format . && ruff check --fix .
