# yuqing: `make demo` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench soak lint clean

install: $(STAMP)

# Reinstalled only when pyproject.toml or the compiled block walk changes, so a second `make` is fast.
$(STAMP): pyproject.toml setup.py crawler/_blockwalk.pyx
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: install
	$(BIN)/yuqing demo

test: install
	$(BIN)/yuqing --config settings.yaml rules check
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench

soak: install
	$(BIN)/python -m bench.soak --cycles 1000

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy yuqing crawler spiders rules alerts scheduler.py

clean:
	rm -rf $(VENV) var demo-out
