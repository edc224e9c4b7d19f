# Two commands do all the set-up on a fresh machine:
#   make run    create .venv, install codeloop with the embedded model, run a demo task
#   make test   create .venv, install codeloop with test tools, run every test
# llama-cpp-python is compiled by codeloop.models.llama_build, never by pip directly: it
# picks the instruction sets from this machine's CPU (never -march=native, never Intel AMX)
# and rebuilds when the venv's build was made for another CPU.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The demo task is a file: its example sits on a line of its own, where the loop finds it.
# Without an example nothing trusted checks the 0.5B model's own tests, and right code can
# end not approved.
DEMO_TASK := examples/fizzbuzz.md
TASK ?=
PYTEST_ARGS ?=
LLAMA_BUILD := $(PY) -m codeloop.models.llama_build

.PHONY: run test lint llama llama-rebuild clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# codeloop first (the build module is part of it), then llama.cpp for this CPU, then the
# rest of the extras, which find llama-cpp-python already installed.
define install
	$(PY) -m pip install --quiet -e .
	$(LLAMA_BUILD)
	$(PY) -m pip install --quiet -e ".[$(1)]"
	touch $@
endef
RUN_EXTRAS := local
TEST_EXTRAS := local,eval,dev

$(VENV)/.run-installed: pyproject.toml | $(VENV)/bin/python
	$(call install,$(RUN_EXTRAS))

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(call install,$(TEST_EXTRAS))

# Cheap when the venv's build fits this CPU; rebuilds (or takes the cached wheel) when not.
llama: | $(VENV)/bin/python
	$(LLAMA_BUILD) --quiet

llama-rebuild: | $(VENV)/bin/python
	$(LLAMA_BUILD) --force

run: $(VENV)/.run-installed llama
	$(VENV)/bin/codeloop run $(if $(TASK),"$(TASK)",--file $(DEMO_TASK))

test: $(VENV)/.test-installed llama
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
