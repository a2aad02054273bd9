# wavebreak task runner: CI calls `make test`; a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help venv run test test-crash test-unit test-integration lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "wavebreak needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP) ## create .venv and install wavebreak with its dev tools

run: $(STAMP) ## embedded broker + worker + demo traffic, with a live summary (Ctrl-C stops)
	$(VENV)/bin/wavebreak run --demo $(ARGS)

test: $(STAMP) ## the suite: unit, property and integration tests (embedded broker), SIGKILL tests included
	$(PY) -m pytest $(PYTEST_ARGS)

test-crash: $(STAMP) ## only the SIGKILL tests (worker killed mid-stream: nothing lost)
	$(PY) -m pytest -m crash $(PYTEST_ARGS)

test-unit: $(STAMP) ## unit and property tests only (no broker)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) ## integration tests against the embedded broker
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP) ## ruff + mypy (strict on routing/)
	$(VENV)/bin/ruff check routing streams tests bench
	$(VENV)/bin/ruff format --check routing streams tests bench
	$(VENV)/bin/mypy routing streams

BENCHES := bench_normalizer bench_sentiment bench_waves bench_policy bench_pipeline bench_latency bench_restore

bench: $(STAMP) ## print throughput/latency figures (normalizer, sentiment, waves, policy, broker end to end)
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done
	@echo "(bench/bench_broker_baselines.py --ablation measures faust settings one by one)"
	@echo "(bench/callgrind_policy.py counts instructions per contact of the routing core; needs valgrind)"

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
