# The two commands of the README, and their helpers.
#   make run    set up everything, then run the workflow on config/config.yaml
#   make test   set up everything, then run the test suite (every tier: tests/unit, tests/methods,
#               tests/workflow; what CI runs)
# While editing: make test-fast, the fast tier (tests/unit and tests/methods without the tests
# marked slow; pyproject.toml's markers, docs/developing.md#tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lethe-installed
PROFILE := --workflow-profile workflow/profiles/default
LATEX_PACKAGES := latexmk texlive-latex-base texlive-latex-recommended \
	texlive-fonts-recommended texlive-latex-extra texlive-science

.PHONY: setup latex fashion-mnist run test test-fast lint report docs lock clean bench

setup: $(STAMP) latex fashion-mnist

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# LaTeX from Debian when latexmk is missing (root needed; otherwise say what to install).
latex:
	@if ! command -v latexmk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing LaTeX: $(LATEX_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(LATEX_PACKAGES) >/dev/null; \
	  else \
	    echo "latexmk not found: install $(LATEX_PACKAGES) (e.g. sudo apt-get install --no-install-recommends ...)" >&2; exit 1; \
	  fi; \
	fi

# Real Fashion-MNIST offline (config/fashion.yaml): Debian's dataset-fashion-mnist puts the
# IDX files in /usr/share/datasets/fashion-mnist, data.fashion_mnist_idx's default. Installed
# as root where apt is available; otherwise a note (only config/fashion.yaml needs it).
FASHION_MNIST_IDX := /usr/share/datasets/fashion-mnist
fashion-mnist:
	@if [ ! -e $(FASHION_MNIST_IDX)/train-images-idx3-ubyte ] && [ ! -e $(FASHION_MNIST_IDX)/train-images-idx3-ubyte.gz ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Fashion-MNIST: dataset-fashion-mnist"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1 || \
	     (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null)) || \
	     echo "note: could not install dataset-fashion-mnist; config/fashion.yaml needs it" >&2; \
	  else \
	    echo "note: Fashion-MNIST IDX files not in $(FASHION_MNIST_IDX); for config/fashion.yaml run: sudo apt-get install dataset-fashion-mnist" >&2; \
	  fi; \
	fi

run: setup
	$(BIN)/snakemake $(PROFILE) $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)

# Selected by marker, so ARGS may narrow it further: make test-fast ARGS="tests/unit/test_plan.py -x"
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "(unit or methods) and not slow" $(ARGS)

lint: setup
	$(BIN)/ruff check workflow tests bench
	$(BIN)/ruff format --check workflow tests bench
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint $(PROFILE)

report: setup
	$(BIN)/snakemake $(PROFILE) --report results/report.html

# The documentation site (mkdocs.yml, docs/) into site/; --strict: a broken link, a page
# missing from the nav or a missing include fails the build (CI runs it: .ci/run).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Benchmarks (BENCHMARKS.md): loader, methods and dag with their defaults, or one (overhead runs the workflow): make bench ARGS="loader --device cuda"
bench: $(STAMP)
	$(BIN)/python -m bench $(or $(ARGS),all)

lock: $(STAMP)
	(echo "# Full pinned environment for Python 3.11 (x86_64): pip install -r requirements.lock"; \
	 echo "# Regenerate with: make lock"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v '^lethe') > requirements.lock

clean:
	rm -rf results .snakemake site
