# churnlens — the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.churnlens-installed

.PHONY: demo test fuzz lint typecheck bench notebooks clean-workspace help

help:
	@echo "make demo   set up .venv, simulate a customer base and run churnlens end to end"
	@echo "make test   set up .venv, then lint, type-check and run the whole test suite"
	@echo "make fuzz   search many fresh inputs for the damaged-source tests (make test replays fixed ones)"
	@echo "make bench  run the benchmarks under bench/"
	@echo "make notebooks  open JupyterLab on notebooks/ (127.0.0.1 only), reading workspace/"

# The virtual environment is built only from the committed lock file.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The main job on the embedded default: a simulated customer base, checked, turned into a
# point-in-time training set, a model trained and registered, every account scored as of
# the first of each of the six months before the data's end and then as of its end (so
# history, the change since the previous run and alerts exist), and the API serving the
# scores (Ctrl-C stops it). Re-running keeps the sources and keys and scores only the new.
DEMO_ACCOUNTS ?= 2000
demo: $(STAMP)
	$(BIN)/churnlens simulate --accounts $(DEMO_ACCOUNTS) --if-missing
	$(BIN)/churnlens validate
	$(BIN)/churnlens build
	$(BIN)/churnlens train
	$(BIN)/churnlens score --history 6
	$(BIN)/churnlens rank --limit 10
	$(BIN)/churnlens alerts list --limit 5
	$(BIN)/churnlens keys demo
	@echo "demo: simulated $(DEMO_ACCOUNTS) accounts, validated them, built a training set, trained"
	@echo "      and registered a champion, scored every account over seven months and raised alerts;"
	@echo "      now serving the API, the CSM page and the Alerts inbox"
	@echo "      (URL and viewer key above; Ctrl-C stops)."
	CHURNLENS_API_KEYS_FILE=$${CHURNLENS_HOME:-workspace}/api-keys.txt $(BIN)/churnlens serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/deptry .

# The suite tries the same generated inputs on every run (Hypothesis's `ci` profile:
# derandomised, no example database), so a pass or a failure is reproducible; `make fuzz`
# searches new inputs of the damaged-source tests, many more of them.
test: lint
	$(BIN)/python -m pytest --hypothesis-profile=ci

FUZZ_EXAMPLES ?= 1000
fuzz: $(STAMP)
	CHURNLENS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p no:cacheprovider \
		tests/features/sources/test_damaged_csv.py tests/features/sources/test_damaged_parquet.py

# JupyterLab on notebooks/, listening on 127.0.0.1 only. The kernels find the workspace
# through CHURNLENS_HOME (default: this repository's workspace/, which `make demo` fills)
# and run this .venv's Python (its kernelspec comes first on JUPYTER_PATH).
NOTEBOOK_HOME = $${CHURNLENS_HOME:-$(CURDIR)/workspace}
notebooks: $(STAMP)
	@test -d "$(NOTEBOOK_HOME)" || echo "notebooks: no workspace at $(NOTEBOOK_HOME) yet; run make demo first"
	CHURNLENS_HOME="$(NOTEBOOK_HOME)" JUPYTER_PATH="$(CURDIR)/$(VENV)/share/jupyter" \
		$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)/notebooks" \
		$(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP)
	$(BIN)/python bench/simulate.py

clean-workspace:
	rm -rf workspace
