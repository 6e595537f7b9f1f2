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

.PHONY: install run test notebook-check lint benchmark clean

.tools/bin/uv:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools "uv==$(UV_VERSION)"

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11
	@touch $@

install: .venv/.installed

run: install
	$(VENV_BIN)/kedro run $(ARGS)

test: install
	$(VENV_BIN)/pytest $(ARGS)

notebook-check: install
	$(VENV_BIN)/kedro notebook check

lint: install
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .

benchmark: install
	$(VENV_BIN)/python benchmarks/pipeline_scale.py $(ARGS)

clean:
	rm -rf .venv .tools
