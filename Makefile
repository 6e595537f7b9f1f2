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

.PHONY: install test-tools benchmark-tools labextension run test notebook-check dvc-check smoke bento lint benchmark corpus clean

.tools/bin/uv:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools "uv==$(UV_VERSION)"

# One stamp per set of extras: asking for other extras syncs again (uv sync installs exactly
# what is asked: an extra left out is removed).
STAMP := .venv/.installed$(subst $(eval) ,,$(EXTRAS:%=-%))

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11 $(foreach extra,$(EXTRAS),--extra $(extra))
	@# lab2prod's Jupyter server extension, switched on as its wheel does (an editable install
	@# leaves the wheel's data files out).
	@mkdir -p .venv/etc/jupyter/jupyter_server_config.d
	@cp labextension/jupyter-config/server-config/lab2prod.json .venv/etc/jupyter/jupyter_server_config.d/
	@rm -f .venv/.installed*
	@touch $@

install: $(STAMP)

# What the tests need beyond the project environment (the test suite does not skip without them):
# checkov, in a locked environment of its own (tools/checkov), and Prometheus, Debian's package.
.tools/checkov/.installed: tools/checkov/pyproject.toml tools/checkov/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/checkov $(UV) sync --frozen --python 3.11 --project tools/checkov
	@touch $@

# Evidently, the baseline of benchmarks/monitoring/drift_scale.py, in a locked environment of its
# own (it is no dependency of the project): `make benchmark-tools`.
.tools/evidently/.installed: tools/evidently/pyproject.toml tools/evidently/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/evidently $(UV) sync --frozen --python 3.11 --project tools/evidently
	@touch $@

benchmark-tools: .tools/evidently/.installed

# DVC (`dvc repro`, `dvc push`/`pull`; docs/reproducibility.md), in a locked environment of its
# own (tools/dvc): ~100 packages the project never imports.
.tools/dvc/.installed: tools/dvc/pyproject.toml tools/dvc/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/dvc $(UV) sync --frozen --python 3.11 --project tools/dvc
	@touch $@

# The project with the `tracking` extra, for the MLflow tests: a second environment, so that the
# suite's other `kedro` commands run as a user's do without the extra.
.tools/tracking/.installed: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.tools/tracking $(UV) sync --frozen --python 3.11 --extra tracking --no-dev
	@touch $@

# The JupyterLab extension, built from labextension/ (TypeScript) with npm and Node.js >= 20.19
# into src/lab2prod/lab/labextension/, where the wheel takes it from; linked into .venv so that
# `kedro jupyter lab` here shows it. Rebuilt only when its sources or its lockfile change.
LABEXT_SOURCES := labextension/package.json labextension/tsconfig.json \
	$(wildcard labextension/src/*.ts labextension/style/* labextension/schema/*.json)
LABEXT_BUILT := src/lab2prod/lab/labextension/package.json

labextension/node_modules/.package-lock.json: labextension/package-lock.json
	@command -v npm >/dev/null || { echo "The JupyterLab extension is built with Node.js (>= 20.19) and npm: install them (https://nodejs.org), then run make again." >&2; exit 1; }
	cd labextension && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(LABEXT_BUILT): $(LABEXT_SOURCES) labextension/node_modules/.package-lock.json | $(STAMP)
	cd labextension && PATH="$(CURDIR)/$(VENV_BIN):$$PATH" npm run build
	@touch $@

labextension: $(LABEXT_BUILT)
	@mkdir -p .venv/share/jupyter/labextensions
	@ln -sfn "$(CURDIR)/src/lab2prod/lab/labextension" .venv/share/jupyter/labextensions/lab2prod

test-tools: .tools/checkov/.installed .tools/tracking/.installed .tools/dvc/.installed labextension
	@command -v prometheus >/dev/null || { \
	  echo "Installing Prometheus (Debian's prometheus package) for the monitoring tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "Installing Chromium (Debian's chromium package) for the JupyterLab browser tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

run: install
	$(VENV_BIN)/kedro run $(ARGS)

test: install test-tools
	$(VENV_BIN)/pytest $(ARGS)

notebook-check: install
	$(VENV_BIN)/kedro notebook check

# dvc.yaml must be what the pipelines give now (`kedro dvc sync` writes it).
dvc-check: install
	$(VENV_BIN)/kedro dvc sync --check

smoke: install
	$(VENV_BIN)/kedro run --params "$(SMOKE_PARAMS)"

# Needs a model in the BentoML store: `make smoke` or `make run` first. The bento carries the
# SBOM of what it installs (sbom.cdx.json, from uv.lock).
bento: install
	$(VENV_BIN)/python -m lab2prod.serving.supply sbom
	$(VENV_BIN)/bentoml build

# ruff, then the import contracts of pyproject.toml ([tool.importlinter]): the layers of the
# framework and the example (docs/architecture.md), checked by import-linter.
lint: install
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/lint-imports

benchmark: install
	$(VENV_BIN)/python benchmarks/pipeline_scale.py $(ARGS)

# `make corpus`: other people's examples (benchmarks/corpus/corpus.toml) converted, run and compared
# with their notebooks. Their packages go into .tools/corpus: the project's locked environment
# plus the pinned packages of the list, installed under the lock's versions (never in uv.lock).
CORPUS_ENV := .tools/corpus
$(CORPUS_ENV)/.installed: pyproject.toml uv.lock benchmarks/corpus/corpus.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(CORPUS_ENV) $(UV) sync --frozen --python 3.11
	$(UV) export --frozen --no-hashes --no-emit-project --quiet -o $(CORPUS_ENV)/constraints.txt
	$(UV) pip install --quiet --python $(CORPUS_ENV)/bin/python -c $(CORPUS_ENV)/constraints.txt \
	  $$($(PYTHON) benchmarks/corpus/run.py --requirements)
	@touch $@

corpus: $(CORPUS_ENV)/.installed
	nice -n 10 $(CORPUS_ENV)/bin/python benchmarks/corpus/run.py $(ARGS)

clean:
	rm -rf .venv .tools labextension/node_modules labextension/lib labextension/tsconfig.tsbuildinfo src/lab2prod/lab/labextension
