# Two commands do all the set-up on a fresh machine:
#   make run    create .venv, install codeloop with the embedded model, run a demo task
#   make test   create .venv, install codeloop with test tools, run every test
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
TASK ?= Write a function fizzbuzz(n) that returns a list of strings for 1..n: 'Fizz' for multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for multiples of both, otherwise the number itself.
PYTEST_ARGS ?=

.PHONY: run test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[local]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[local,eval,dev]"
	touch $@

run: $(VENV)/.run-installed
	$(VENV)/bin/codeloop run "$(TASK)"

test: $(VENV)/.test-installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
