# Every target creates the virtual environment on first use, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint format bench clean

help:
	@echo "make demo    set up .venv and open the console on the embedded lab (a throw-away store)"
	@echo "make test    lint (ruff), type-check (mypy) and run the whole test suite"
	@echo "make test-fast  the inner loop: the suite without the slow reliability and 10,000-mailbox tests"
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

# Snapshots are taken with the default theme and colours, whatever the developer's terminal asks for.
CLEAN_ENV := env -u NO_COLOR -u TEXTUAL_THEME -u TEXTUAL_ANIMATIONS -u TEXTUAL_COLOR_SYSTEM

# Two workers (the CI machine has two cores); the snapshot tests share one fixed data-directory path (the
# masthead shows it), so they stay together on one worker.
test: lint
	$(CLEAN_ENV) $(PY) -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(CLEAN_ENV) $(PY) -m pytest -m "not slow" -q

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache snapshot_report.html
