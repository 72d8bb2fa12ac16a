# Every target creates the virtual environment on first use, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint format bench clean

help:
	@echo "make demo    set up .venv and open the console on the embedded lab (a throw-away store)"
	@echo "make test    lint (ruff), type-check (mypy) and run the whole test suite"
	@echo "make test-fast  the inner loop (about 2 min): the core's tests, without the console's (tests/ui), the"
	@echo "                whole-process ones (tests/e2e) and the slow reliability and 10,000-mailbox tests"
	@echo "make lint    ruff + mypy only"
	@echo "make format  apply ruff's formatter and safe fixes"
	@echo "make bench   run the benchmarks (prints ratios; never pass/fail)"
	@echo "make clean   remove .venv and caches"

# Kerberos (remote PowerShell's default) builds against MIT Kerberos's headers: installed where `krb5-config`
# exists (Debian/Ubuntu: apt-get install libkrb5-dev krb5-kdc krb5-admin-server); elsewhere the Kerberos tests
# are skipped and say why.
EXTRAS := $(shell command -v krb5-config >/dev/null 2>&1 && echo dev,kerberos || echo dev)
# The stamp names the extras: once krb5-config appears, the next make adds the kerberos extra.
STAMP  := $(VENV)/.installed-$(EXTRAS)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m workbench demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Snapshots are taken with the default theme and colours, whatever the developer's terminal asks for. The suite
# starts Python hundreds of times (its workers, the CLI as a subprocess): it keeps the project's bytecode even where
# PYTHONDONTWRITEBYTECODE is set (measured: a third less CPU for the CLI tests).
CLEAN_ENV := env -u NO_COLOR -u TEXTUAL_THEME -u TEXTUAL_ANIMATIONS -u TEXTUAL_COLOR_SYSTEM -u PYTHONDONTWRITEBYTECODE

# Three workers on the CI machine's two cores, stealing work from each other: about a quarter of the suite's time
# is waiting (timeouts the lab provokes, device-code polls, CLI subprocesses, kill -9 runs); with two workers the
# cores sat idle through it, a third keeps them busy. The tests differ a lot in length, and a worker left with the
# long ones would otherwise finish alone. Each test (snapshots included) has a data directory of its own, so any
# test can run on any worker.
PYTEST := $(CLEAN_ENV) $(PY) -m pytest -n 3 --dist worksteal

test: lint
	$(PYTEST)

# The console's tests (Textual at work: minutes of CPU) and the whole-process ones run in `make test`; alone:
# `.venv/bin/python -m pytest -n 2 tests/ui` (or tests/e2e).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow" -q --ignore=tests/ui --ignore=tests/e2e

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache snapshot_report.html
