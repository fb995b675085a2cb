# The two commands of the README's quick start: `make app` and `make test`.
# Both create .venv/ at the repo root and install the project with pinned versions.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ONBOARD_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
PORT ?= 8501
CHROMIUM := /usr/bin/chromium

.PHONY: app test lint bench install browser

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

app: $(STAMP)
	$(BIN)/onboard demo --if-empty
	$(BIN)/streamlit run dashboard/server.py --server.port $(PORT)

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# The end-to-end tests drive Debian's Chromium (browsers cannot be downloaded here). As root
# with apt-get it is installed; elsewhere the browser tests skip (CI requires them).
browser:
	@test -x $(CHROMIUM) || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq chromium chromium-driver >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
