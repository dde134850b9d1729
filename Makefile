# photoz-nb: `make reproduce` (the main job) and `make test` (unit + notebook tests).
# Both create .venv if absent and install the project from its own files; both are idempotent.
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PROFILE ?= $(or $(PHOTOZ_PROFILE),small)

.PHONY: install install-docs chromium reproduce test test-unit test-notebooks docs bench figures clean-data help
help:
	@echo "make reproduce   build data, train, calibrate, evaluate, figures (PROFILE=$(PROFILE))"
	@echo "make test        unit tests + notebooks in the smoke profile"
	@echo "make bench       throughput tables (Keras backends, training, prediction, simulation, own code vs libraries, faulted downloads)"
	@echo "make docs        the tutorial site of the last reproduce run (PROFILE=$(PROFILE)) in build/docs/html"

install: $(STAMP)
# constraints.txt pins every package to the version the published results were made with.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,torch,jax,sdss,dask,qp,userdata,rail]"
	@touch $(STAMP)

reproduce: install
	PHOTOZ_PROFILE=$(PROFILE) $(BIN)/photoz-nb reproduce --profile $(PROFILE)

# `make test`: the import contracts, then one pytest-xdist session over the unit tests and the notebooks (smoke
# profile; nbval-lax fails on any error or failed assert cell), then the model and training tests again under torch:
# the Keras code is backend-agnostic and must stay so.  The data-parallel test runs its own JAX process, whatever
# the backend: once is enough, so the torch pass leaves it out (rather than skipping it).
# TEST_WORKERS processes (CI has 2 cores; each holds a Keras backend, ~1 GiB) take one test file at a time
# (--dist loadfile: a file's module fixtures are built once); the five notebooks are one unit, run in order in
# one worker (tests/conftest.py) while the others take the test files.  TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2
PYTEST       = $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile
LINT_IMPORTS = $(BIN)/lint-imports  # the layers and no-cycles contracts of pyproject.toml [tool.importlinter]
NOTEBOOKS    = PHOTOZ_PROFILE=smoke $(PYTEST) --nbval-lax -p no:cacheprovider notebooks
TORCH_PASS   = KERAS_BACKEND=torch $(PYTEST) tests/test_model.py tests/test_train.py tests/test_inputs.py \
               --deselect tests/test_train.py::test_data_parallel_over_two_devices_gives_the_single_device_weights
test: install
	$(LINT_IMPORTS)
	$(NOTEBOOKS) tests
	$(TORCH_PASS)

test-unit: install
	$(LINT_IMPORTS)
	$(PYTEST) tests
	$(TORCH_PASS)

test-notebooks: install
	$(NOTEBOOKS)

# The tutorial site: the README, the notebooks as `make reproduce` executed them (build/notebooks/PROFILE)
# and the figure index, rendered by Sphinx without executing anything; then every page is opened in
# headless Chromium (pages render, images load, maths typeset, no console error).
docs: install-docs chromium
	$(BIN)/python docs/build.py --profile $(PROFILE)
	$(BIN)/python -m pytest -q -p no:cacheprovider docs/test_site.py

install-docs: $(VENV)/.installed-docs
$(VENV)/.installed-docs: $(STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"
	@touch $@

# Debian's chromium, for the site check, if no Chromium is on the PATH.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || \
	  { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q chromium; }

bench: install
	$(BIN)/photoz-nb bench backends
	$(BIN)/photoz-nb bench train
	$(BIN)/photoz-nb bench predict
	$(BIN)/photoz-nb bench fit
	$(BIN)/photoz-nb bench simulate
	$(BIN)/photoz-nb bench libraries
	$(BIN)/photoz-nb bench sdss-faults  # 2,000 frame requests from the local stand-in, 20 % faulted (~15 min)

figures: install
	$(BIN)/photoz-nb figures --profile $(PROFILE)

clean-data:
	rm -rf data/$(PROFILE) figures/$(PROFILE) build/notebooks/$(PROFILE)
