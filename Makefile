# Two commands do all set-up on a fresh machine:
#   make run    installs what is missing, prepares the model, imports the bundled
#               catalogues, builds indexes, serves http://127.0.0.1:8000
#   make test   the same set-up, then the tests
# Re-running skips what is already done.

PY      ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
# torch first and pinned: here 2.13.0 installs a CPU build from disk, while an
# unpinned torch pulls several GB of CUDA packages.
TORCH   := torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: run test setup install browser services bench eval clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

setup: install
	$(BIN)/wenban setup

run: setup
	$(BIN)/wenban serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's chromium (Playwright's own browser download
# does not work here) and need a CJK font to render the pages; CI runs as root.
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; }

# PostgreSQL and nginx from Debian for the store-on-both-engines and replica tests; the
# tests start throw-away instances on loopback (as the postgres user when run as root)
# and stop them after.
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql nginx; }

test: setup browser services
	$(BIN)/python -m pytest

eval: setup
	$(BIN)/wenban eval --compare

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf var
