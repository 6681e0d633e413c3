# One entry point. `make run` and `make test` do the whole set-up on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install index run run-workers test test-fast screenshots eval eval-url eval-blind eval-check eval-gate calibrate bench lint browser-deps postgres-deps load load-server load-hosts clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)

index: install
	$(BIN)/python -m assistant index --if-needed

run: index
	$(BIN)/python app.py

# Headless Chromium for the browser tests comes from Debian (Playwright's own download fails here).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need /usr/bin/chromium: sudo apt-get install -y chromium"; fi; }

# PostgreSQL server binaries for the audit database tests (the tests start their own server as the
# unprivileged `postgres` user in a temporary folder; the Debian package's own cluster is not used).
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "database tests need PostgreSQL's server binaries: sudo apt-get install -y postgresql"; fi; }

# Everything: the same lint as `make lint`, then every test (real model, servers, browser, PostgreSQL), on
# TEST_WORKERS processes (pytest-xdist; each loads its own model, ~2 GB). TEST_WORKERS=0 runs them in one.
TEST_WORKERS ?= 2
test: lint browser-deps postgres-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The inner loop: unit tests with a deterministic fake embedder; no browser, server or child process.
test-fast: install
	$(BIN)/python -m pytest --fast -q

# Regenerate the README's screenshot from the browser test (docs/).
screenshots: install browser-deps
	$(BIN)/python -m pytest -q tests/test_browser.py -k readme_screenshot --screenshots

run-workers: index
	$(BIN)/python app.py --workers 2

eval: install
	$(BIN)/python -m evals

# The same cases, metrics and gate against a running deployment: make eval-url URL=http://127.0.0.1:7860
eval-url: install
	@test -n "$(URL)" || { echo "usage: make eval-url URL=http://127.0.0.1:7860"; exit 2; }
	$(BIN)/python -m evals --url $(URL) --check

eval-blind: install
	$(BIN)/python -m evals.blind

# Re-fit the answerability score (corpus/answerability.yaml) on the development sets only.
calibrate: install
	$(BIN)/python -m evals.calibrate

eval-check: install
	$(BIN)/python -m evals --check

# The regression gate of the final blind sets (measured once each, never tuned on): every set re-run with
# the current logic must meet its measured values (evals/thresholds_blind.yaml). About 5 minutes on one
# core, so CI (.ci/run) runs it after `make test` rather than inside it.
eval-gate: install
	$(BIN)/python -m evals.blind --check --finals-only --out evals/results/gate

bench: install
	$(BIN)/python -m evals.bench

load: install
	$(BIN)/python -m evals.load --clients 1,8

load-server: install
	$(BIN)/python -m evals.load --workers 2 --chroma-server --clients 16 --seconds 60

# Two app hosts (separate processes, data folders and ports) sharing one Chroma server and one PostgreSQL.
load-hosts: install postgres-deps
	$(BIN)/python -m evals.load --hosts 2 --clients 16 --seconds 60

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
