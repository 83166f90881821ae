# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# torch and torchvision must be installed as this pair: torchvision does not import beside the
# torch 2.13.0+cpu file that is also on disk here. DGL 2.1.0 is the newest CPU build on PyPI.
PINS   := torch==2.14.1 torchvision==0.29.1 dgl==2.1.0

.PHONY: venv demo test lint format zoo bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PINS)
	$(PIP) install -q -e '.[dev]' $(PINS)
	touch $@

demo: venv
	$(VENV)/bin/hnn demo

test: venv
	$(PY) -m pytest -q tests

lint: venv
	$(VENV)/bin/ruff check hnnframe tests examples benchmarks
	$(VENV)/bin/ruff format --check hnnframe tests examples benchmarks

format: venv
	$(VENV)/bin/ruff format hnnframe tests examples benchmarks
	$(VENV)/bin/ruff check --fix hnnframe tests examples benchmarks

zoo: venv
	$(VENV)/bin/hnn zoo build

# The cheap benchmark: exact Hamming search and the SQLite index at small sizes, to stdout
# (the full runs, and the commands behind every figure, are in docs/bench_*.md).
bench: venv
	$(PY) benchmarks/bench_index.py --sizes 10000 100000 --bits 64 256 --methods numpy \
		--store-size 10000 --out -

clean:
	rm -rf $(VENV) build *.egg-info
