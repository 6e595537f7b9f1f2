# The two commands of the README: `make run` and `make test`.
# Each bootstraps uv with pip when absent, installs the locked environment into .venv, then runs.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV_BIN := .venv/bin

export KEDRO_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
export DO_NOT_TRACK := true
export UV_PYTHON_DOWNLOADS := never

# Extras of pyproject.toml to install as well, e.g. `make run EXTRAS=tracking` (MLflow tracking).
EXTRAS ?=
# `make smoke`: the whole default pipeline on small data, as CI runs it.
SMOKE_PARAMS := data_generation.n_transactions=40000,data_generation.n_customers=1500,data_generation.n_merchants=300

.PHONY: install test-tools run test notebook-check smoke bento lint benchmark clean

.tools/bin/uv:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools "uv==$(UV_VERSION)"

# One stamp per set of extras: asking for other extras syncs again (uv sync installs exactly
# what is asked: an extra left out is removed).
STAMP := .venv/.installed$(subst $(eval) ,,$(EXTRAS:%=-%))

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11 $(foreach extra,$(EXTRAS),--extra $(extra))
	@rm -f .venv/.installed*
	@touch $@

install: $(STAMP)

# What the tests need beyond the project environment (the test suite does not skip without them):
# checkov, in a locked environment of its own (tools/checkov), and Prometheus, Debian's package.
.tools/checkov/.installed: tools/checkov/pyproject.toml tools/checkov/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/checkov $(UV) sync --frozen --python 3.11 --project tools/checkov
	@touch $@

# The project with the `tracking` extra, for the MLflow tests: a second environment, so that the
# suite's other `kedro` commands run as a user's do without the extra.
.tools/tracking/.installed: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/tracking $(UV) sync --frozen --python 3.11 --extra tracking --no-dev
	@touch $@

test-tools: .tools/checkov/.installed .tools/tracking/.installed
	@command -v prometheus >/dev/null || { \
	  echo "Installing Prometheus (Debian's prometheus package) for the monitoring tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

run: install
	$(VENV_BIN)/kedro run $(ARGS)

test: install test-tools
	$(VENV_BIN)/pytest $(ARGS)

notebook-check: install
	$(VENV_BIN)/kedro notebook check

smoke: install
	$(VENV_BIN)/kedro run --params "$(SMOKE_PARAMS)"

# Needs a model in the BentoML store: `make smoke` or `make run` first.
bento: install
	$(VENV_BIN)/bentoml build

lint: install
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .

benchmark: install
	$(VENV_BIN)/python benchmarks/pipeline_scale.py $(ARGS)

clean:
	rm -rf .venv .tools
