# photoz-nb: `make reproduce` (the main job) and `make test` (unit + notebook tests).
# Both create .venv if absent and install the project from its own files; both are idempotent.
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PROFILE ?= $(or $(PHOTOZ_PROFILE),small)

.PHONY: install reproduce test test-unit test-notebooks bench figures clean-data help
help:
	@echo "make reproduce   build data, train, calibrate, evaluate, figures (PROFILE=$(PROFILE))"
	@echo "make test        unit tests + notebooks in the smoke profile"
	@echo "make bench       throughput tables (Keras backends, training, prediction, simulation)"

install: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,torch,jax,sdss,dask,qp]"
	@touch $(STAMP)

reproduce: install
	PHOTOZ_PROFILE=$(PROFILE) $(BIN)/photoz-nb reproduce --profile $(PROFILE)

test: test-unit test-notebooks

# Unit tests under the default backend (tensorflow), then the model and training tests again under torch:
# the Keras code is backend-agnostic and must stay so.
test-unit: install
	$(BIN)/python -m pytest tests
	KERAS_BACKEND=torch $(BIN)/python -m pytest tests/test_model.py tests/test_train.py tests/test_inputs.py

# Notebooks run in order (01..05) in the smoke profile; nbval-lax fails on any error or failed assert cell.
test-notebooks: install
	PHOTOZ_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax -p no:cacheprovider notebooks/

bench: install
	$(BIN)/photoz-nb bench backends
	$(BIN)/photoz-nb bench train
	$(BIN)/photoz-nb bench predict
	$(BIN)/photoz-nb bench fit
	$(BIN)/photoz-nb bench simulate

figures: install
	$(BIN)/photoz-nb figures --profile $(PROFILE)

clean-data:
	rm -rf data/$(PROFILE) figures/$(PROFILE) build/notebooks/$(PROFILE)
