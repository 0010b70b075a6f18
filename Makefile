# The front door: the same verbs for every component.
#   make install   create .venv with every serving component, training and test tools
#   make run       the whole platform on localhost (gateway :8080, staging + production pairs)
#   make test      unit + end-to-end tests (installs what it needs first)
#   make models    train the default models into ./models (skips those already built)
#   make lint      ruff over every package

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned here so pip takes the CPU wheel on disk instead of a multi-GB CUDA build.
TORCH  := torch==2.13.0
EXTRAS := gateway,transformer,model-server,training,dev

.PHONY: install run test models lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH) -e '.[$(EXTRAS)]'
	touch $@

install: $(STAMP)

models: $(STAMP)
	$(BIN)/python -m model_training defaults --models-dir models

run: $(STAMP)
	$(BIN)/python -m devstack run --models-dir models

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check common api-gateway feature-transformer model-server training devstack tests

clean:
	rm -rf $(VENV) build var .pytest_cache
