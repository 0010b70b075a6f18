# The front door: the same verbs for every component.
#   make install   create .venv with every serving component, training and test tools
#   make run       the whole platform on localhost (gateway :8080, staging + production pairs)
#                  OBJECT_STORE=1: serving from and logging to object storage (a local S3 server), as in a cluster
#                  RSPAMD=1: with Rspamd in front, asking textserve about every message (integrations/rspamd)
#   make test      unit + end-to-end tests (installs what it needs first)
#   make models    train the default models into ./models (skips those already built)
#   make traffic   send 300 held-out SMS and e-mails through the running gateway (TRAFFIC_ARGS="--kind shifted")
#   make drift     baselines for the served models (when missing), then one drift run over the local log
#   make labelled-data  users' labels joined with their predictions (var/labelled-data.parquet), for training
#   make bench     throughput/latency of every hop vs the raw model (BENCH_ARGS="--concurrency 64 ...";
#                  --only-defaults, --only-overhead, --only-mixed: one step alone)
#   make sync-model MODEL_DIR=models/spam-detector [STORE=s3://textserve-models]
#                  upload a model directory to the store under its version
#   make promote   MODEL=spam-detector [VERSION=...] [PROMETHEUS=http://prometheus:9090] [FORCE=1]
#                  (evidence from Prometheus, every gateway pod; METRICS=http://gateway/metrics: one process)
#                  point production's overlay at the version staging serves, refusing without evidence
#   make lint      ruff over every package, mypy (strict) over the serving packages, luacheck over the Rspamd module,
#                  mkdocs --strict; make test runs it first
#   make images    build every container image (needs a Docker engine)
#   make lock      refresh constraints.txt, the pinned versions the images install

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned here so pip takes the CPU wheel on disk instead of a multi-GB CUDA build.
TORCH  := torch==2.13.0
EXTRAS := gateway,transformer,model-server,training,baseline,release,object-storage,dev
# The drift detector's own environment: alibi-detect's pins conflict with kserve's (see pyproject.toml).
DRIFT_VENV  := .venv-drift
DRIFT_BIN   := $(DRIFT_VENV)/bin
DRIFT_STAMP := $(DRIFT_VENV)/.installed

.PHONY: install tools run test models baselines traffic drift labelled-data bench lint lock images clean sync-model promote

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH) -e '.[$(EXTRAS)]'
	touch $@

$(DRIFT_STAMP): pyproject.toml
	test -x $(DRIFT_BIN)/python || $(PYTHON) -m venv $(DRIFT_VENV)
	$(DRIFT_BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(DRIFT_BIN)/python -m pip install -q --disable-pip-version-check $(TORCH) -e '.[drift,drift-test,object-storage]'
	touch $@

install: $(STAMP) $(DRIFT_STAMP)

# From Debian: Prometheus and promtool for the monitoring checks (tests run a real Prometheus), hey and wrk for
# the soak test and the benchmark, Chromium for the offline /docs test (tests/e2e/test_api_docs.py), Rspamd and
# SpamAssassin for the mail-filter integrations (integrations/, tests/e2e/test_rspamd.py and test_spamassassin.py,
# make run RSPAMD=1 and SPAMASSASSIN=1), luacheck for the Rspamd module.
tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v hey >/dev/null && command -v wrk >/dev/null \
	  && command -v chromium >/dev/null && command -v rspamd >/dev/null && command -v luacheck >/dev/null \
	  && command -v spamc >/dev/null && PATH="$$PATH:/usr/sbin" command -v spamd >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus hey wrk chromium rspamd lua-check spamassassin spamd spamc >/dev/null; }
	@command -v kubectl >/dev/null || { echo "kubectl (with kustomize) is needed for the manifest checks"; exit 1; }

models: $(STAMP)
	$(BIN)/python -m model_training defaults --models-dir models

# OBJECT_STORE=1: models, inference log and baselines in object storage, as in a cluster (a local S3-compatible
# server on :9000; OBJECT_STORE=http://host:port for another, with the AWS_* credentials of the environment).
# RSPAMD=1: Rspamd (make tools installs it) on :11333 in front, asking textserve about every message it checks.
# SPAMASSASSIN=1: SpamAssassin's spamd (make tools installs it) on :11783 in front, likewise.
OBJECT_STORE ?=
RSPAMD ?=
SPAMASSASSIN ?=
run: $(STAMP)
	$(BIN)/python -m devstack run --models-dir models $(if $(filter 1,$(OBJECT_STORE)),--object-store,$(if $(OBJECT_STORE),--object-store $(OBJECT_STORE))) $(if $(filter 1,$(RSPAMD)),--rspamd) $(if $(filter 1,$(SPAMASSASSIN)),--spamassassin)

# The drift detector's own tests run in its environment (real alibi-detect); confcutdir keeps the
# serving environment's conftest out of it.
test: $(STAMP) $(DRIFT_STAMP) tools lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(DRIFT_BIN)/python -m pytest tests/drift_detector --confcutdir=tests/drift_detector -p no:cacheprovider -W ignore::pytest.PytestConfigWarning

# Where `make drift` reads and writes (s3://... with make run OBJECT_STORE=1; its banner says how).
LOG_URL       ?= var/inference-log
FEEDBACK_URL  ?= var/feedback-log
BASELINES_URL ?= models/baselines
REPORTS_URL   ?= var/drift-reports
baselines: models
	$(BIN)/python -m baseline_generator --model-dir models/spam-detector --model-dir models/intent-classifier \
	  --baselines-url $(BASELINES_URL) --skip-existing

# Against a running `make run`: TRAFFIC_ARGS="--kind shifted --environment production".
traffic: $(STAMP)
	$(BIN)/python -m devstack.traffic $(TRAFFIC_ARGS)

drift: baselines $(DRIFT_STAMP)
	$(DRIFT_BIN)/python -m drift_detector --inference-log-url $(LOG_URL) --baselines-url $(BASELINES_URL) \
	  --feedback-log-url $(FEEDBACK_URL) --reports-dir $(REPORTS_URL) $(DRIFT_ARGS)

# Users' labels joined with their predictions, for training's --extra-data (docs/feedback.md):
# LABELLED_ARGS="--days 30 --exclude-key NAME".
LABELLED_OUT ?= var/labelled-data.parquet
labelled-data: $(DRIFT_STAMP)
	$(DRIFT_BIN)/python -m drift_detector labelled-data --inference-log-url $(LOG_URL) --feedback-log-url $(FEEDBACK_URL) \
	  --out $(LABELLED_OUT) $(LABELLED_ARGS)

bench: models tools
	$(BIN)/python -m devstack.bench $(BENCH_ARGS)

STORE ?= s3://textserve-models
sync-model: $(STAMP)
	$(BIN)/python -m model_release sync --model-dir $(MODEL_DIR) --store $(STORE)

# Edits kubernetes/overlays/production/model-versions.yaml: review, commit, apply (see docs/runbooks.md).
promote: $(STAMP)
	$(BIN)/python -m model_release promote --model $(MODEL) $(if $(VERSION),--version $(VERSION)) \
	  $(if $(PROMETHEUS),--prometheus $(PROMETHEUS)) $(if $(METRICS),--metrics $(METRICS)) $(if $(FORCE),--force) $(PROMOTE_ARGS)

# ruff over everything; mypy strict over the serving packages (pyproject.toml, [tool.mypy]) and the mail-host
# script; luacheck over the Rspamd module, perl -c over the SpamAssassin plugin; docs/ built as a site with --strict (every link and anchor checked),
# into a scratch directory.
lint: $(STAMP) tools
	$(BIN)/ruff check common api-gateway feature-transformer model-server training baseline-generator drift-detector devstack release integrations tests
	$(BIN)/ruff format --check common api-gateway feature-transformer model-server training baseline-generator drift-detector devstack release integrations tests
	$(BIN)/mypy
	$(BIN)/mypy --strict integrations/textserve_learn.py
	luacheck --no-color --globals rspamd_config -- integrations/rspamd/plugins.d/textserve.lua
	perl -Mstrict -wc integrations/spamassassin/TextServe.pm
	site=$$(mktemp -d) && $(BIN)/mkdocs build --strict --site-dir $$site; status=$$?; rm -rf $$site; exit $$status

REGISTRY ?= ghcr.io/textserve
# The images' tag. A default for this target only: VERSION is also make promote's model version, whose
# absence means "the version staging serves" (a global default here made every promote ask for 0.1.0).
images: VERSION ?= 0.1.0
# One Dockerfile, one table of images (pyproject.toml, [tool.textserve.images]).
images: $(STAMP)
	$(BIN)/python -m devstack.images --registry $(REGISTRY) --version $(VERSION)

lock: $(STAMP) $(DRIFT_STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -viE '^(torch|nvidia-|triton|textserve)' > constraints.txt
	$(DRIFT_BIN)/python -m pip freeze --exclude-editable | grep -viE '^(torch|nvidia-|triton|textserve|pytest|pluggy|iniconfig)' > constraints-drift.txt

clean:
	rm -rf $(VENV) $(DRIFT_VENV) build var .pytest_cache
