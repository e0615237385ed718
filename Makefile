# Short verbs for people and CI alike: CI (.ci/run) runs lint, samples, demo, simulate, a short fuzz, e2e and test.
#   make demo      every domain's demo on the local cloud from infra/template.yaml (SIZE=12 SEED=1; NO_FAULTS=1;
#                  VERBOSE=1 every step; HTML=run.html a page replaying the run, RECORD=run.jsonl its record)
#   make simulate  every domain's scenario over SEEDS=100 seeds, invocations at once, faults above the demo's; shrinks a failing seed
#   make samples   decode every sample payload in events/ and summarise what is inside
#   make graph     redraw the README's event graph, and the template's alarms and dashboard, from the template
#   make test      every test (installs moto, cargo-lambda, zig and Playwright into .venv, Debian's chromium, first)
#   make screenshots  the run page's pictures in docs/ (page-*.png), from the seed-1 demo in headless Chromium
#   make lint      rustfmt, clippy with warnings as errors, cfn-lint, checkov and sam validate --lint of infra/template.yaml
#   make fuzz      the fuzz targets (decoder, patterns, template, API bodies) under AFL++, FUZZ_SECONDS=60 each
#   make package   arm64 Lambda zips of every function, via cargo-lambda
#   make watch     serve every function locally with cargo lambda watch (AWS_ENDPOINT_URL for a local AWS)
#   make invoke-F  send function F its main sample (the shortest name in events/*/F/, or EVENT=path) via cargo lambda invoke
#   make bench     criterion benchmarks, then bench/demo.sh (localcloud demo with 10,000 orders)
#   make bench-peers  the kit's batch path next to Powertools (Python) on the same work, and the ratio
#   make bench-cold   every function's cold start next to a hello-world lambda_runtime function (COLD_STARTS=10)
#   make bench-calls  AWS calls and time per batch of each function on moto with LATENCY_MS=20 on every call
#   make bench-instances  records/s in one environment, one invocation at a time vs 8 at once (Lambda Managed Instances)
#   make e2e       the whole stack on moto: every resource of the template, the release binaries as Lambda runs them,
#                  both scenario files played and compared with the local cloud's runs; then sam validate and sam build
#   make deploy    sam build + sam deploy of infra/template.yaml (needs an AWS account and the SAM CLI)
#   make clean     build output and the local tool venv

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
# Python tools (cargo-lambda, zig, moto) live in a project venv, never system-wide.
TOOLS_STAMP := $(VENV)/.tools-installed
FUNCTIONS := $(notdir $(patsubst %/Cargo.toml,%,$(wildcard functions/*/Cargo.toml)))
LAMBDA_TARGET := aarch64-unknown-linux-gnu
LOCALCLOUD := $(or $(CARGO_TARGET_DIR),target)/debug/localcloud
# The demo runs an optimised build (profile `tools`: release without the Lambda size settings).
LOCALCLOUD_TOOLS := $(or $(CARGO_TARGET_DIR),target)/tools/localcloud
# How much each domain's demo does; ORDERS, its old name, still sets it.
SIZE ?= $(or $(ORDERS),12)
SEED ?= 1

.PHONY: help demo simulate samples graph test lint fuzz package bench bench-peers bench-cold bench-calls bench-instances e2e sam-validate sam-build clean tools deploy watch screenshots

# Debian packages the tests need, installed when missing (as root, else with sudo).
APT_INSTALL = $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q
APT_UPDATE = $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q
# The browser the run page's tests drive (Playwright from .venv, pointed at Debian's Chromium:
# Playwright's own browser downloads are not used).
CHROMIUM ?= /usr/bin/chromium

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

demo:
	@$(CARGO) build --quiet --profile tools -p localcloud
	$(LOCALCLOUD_TOOLS) demo --size $(SIZE) --seed $(SEED) $(if $(NO_FAULTS),--no-faults) $(if $(VERBOSE),--verbose) \
	  $(if $(HTML),--html $(HTML)) $(if $(RECORD),--record $(RECORD))

SEEDS ?= 100

# Writes reproducers of failing seeds (a scenario and a fault file each) to target/simulate.
# Breaks an open issue will fix are listed in events/scenarios/known-breaks.json: reported, not failed.
simulate:
	@$(CARGO) build --quiet --profile tools -p localcloud
	$(LOCALCLOUD_TOOLS) simulate --seeds $(SEEDS) --known events/scenarios/known-breaks.json

graph:
	@$(CARGO) build --quiet -p localcloud
	$(LOCALCLOUD) graph --update README.md
	$(LOCALCLOUD) operations --update infra/template.yaml

samples:
	@$(CARGO) build --quiet -p localcloud
	@echo "Decoding every sample in events/ that carries envelopes (carrier, event type and version, subject, event time in UTC); Function URL requests, scheduled ticks and the sensor catalogue carry none"
	@good=0; refused=0; failed=0; \
	for file in $$(find events \( -path events/schemas -o -path events/tables -o -path events/scenarios \) -prune -o -name '*.json' ! -name '*.function-url.json' ! -name 'scheduled-*.json' ! -name 'catalogue.json' -print | sort); do \
	  case "$$(basename $$file)" in bad-*) expect=bad ;; *) expect=good ;; esac; \
	  echo; echo "$$file"; \
	  if $(LOCALCLOUD) decode --summary "$$file" 2>&1 | sed 's/^/    /'; then \
	    if [ $$expect = good ]; then good=$$((good + 1)); \
	    else failed=$$((failed + 1)); echo "    -> UNEXPECTED: a bad sample was accepted"; fi; \
	  elif [ $$expect = bad ]; then refused=$$((refused + 1)); echo "    -> refused, as a bad sample must be"; \
	  else failed=$$((failed + 1)); echo "    -> UNEXPECTED: a good sample was refused"; fi; \
	done; \
	echo; echo "$$good good samples decoded, $$refused bad samples refused, $$failed unexpected"; \
	[ $$failed -eq 0 ]

# Everything but the AWS adapters builds without the AWS SDK (the function crates' `aws`
# feature is their Lambda binary); then the adapter tests, which start moto from .venv
# themselves on a free loopback port, and the Lambda glue, with the SDK.
test: $(TOOLS_STAMP) $(CHROMIUM)
	$(CARGO) test --workspace --no-default-features --doc
	$(CARGO) test --workspace --no-default-features --all-targets
	$(CARGO) test -p system-tests --features aws --test idempotency_dynamodb --test order_stores_dynamodb --test sensor_stores_dynamodb --test event_store_dynamodb --test event_tools_dynamodb --test kit_publishers --test field_keys_kms
	$(CARGO) test -p handler-kit --features aws --lib --test metrics
	$(CARGO) test -p system-tests --features aws --doc
	$(CARGO) build --quiet -p localcloud
	LOCALCLOUD=$(abspath $(LOCALCLOUD)) CHROMIUM=$(CHROMIUM) $(VENV)/bin/python -m unittest discover -s tests/browser -v

screenshots: $(TOOLS_STAMP) $(CHROMIUM)
	@$(CARGO) build --quiet -p localcloud
	LOCALCLOUD=$(abspath $(LOCALCLOUD)) CHROMIUM=$(CHROMIUM) $(VENV)/bin/python tests/browser/screenshots.py

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the run page's browser tests need Chromium: install it, or set CHROMIUM=/path/to/chromium"; exit 1; }
	$(APT_INSTALL) chromium || { $(APT_UPDATE) && $(APT_INSTALL) chromium; }

lint: $(TOOLS_STAMP)
	$(CARGO) fmt --all --check
	$(CARGO) fmt --manifest-path tests/fuzz/Cargo.toml --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	$(CARGO) clippy --workspace --all-targets --no-default-features -- -D warnings
	$(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- infra/template.yaml
	$(VENV)/bin/checkov --file infra/template.yaml --framework cloudformation --quiet --compact --skip-download
	$(MAKE) --no-print-directory sam-validate

$(TOOLS_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

tools: $(TOOLS_STAMP)

package: $(TOOLS_STAMP)
	@if [ -z "$(FUNCTIONS)" ]; then echo "no function crates in functions/ yet: nothing to package"; exit 0; fi; \
	rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET); \
	for fn in $(FUNCTIONS); do \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --release --arm64 --output-format zip --package $$fn; \
	done

# Functions read their table, queue and bus names from the environment the template gives them:
# export them (and AWS_ENDPOINT_URL, for moto or another local AWS) before `make watch`.
watch: $(TOOLS_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda watch

invoke-%: $(TOOLS_STAMP)
	@event="$${EVENT:-$$(ls events/*/$*/*.json 2>/dev/null | awk '{ print length, $$0 }' | sort -n | head -n 1 | cut -d' ' -f2)}"; \
	[ -n "$$event" ] || { echo "no sample in events/*/$*/: pass EVENT=path/to/payload.json"; exit 2; }; \
	echo "invoking $* with $$event"; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda invoke $* --data-file "$$event"

bench:
	$(CARGO) bench --workspace
	bench/demo.sh

# The kit's batch path next to Powertools for AWS Lambda (Python) doing the same work, one after
# the other: both figures and their ratio (Powertools goes into .venv from PyPI).
bench-peers: $(TOOLS_STAMP)
	VENV=$(VENV) bench/peers/run.sh

# Coverage-guided fuzzing with cargo-afl (installed on first use, with AFL++ built from its
# sources): no crash, hang or allocation over 1 GB on inputs grown from events/ and the template.
fuzz: $(TOOLS_STAMP)
	VENV=$(CURDIR)/$(VENV) FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) tests/fuzz/run.sh

bench-cold: $(TOOLS_STAMP)
	VENV=$(VENV) bench/coldstart/run.sh cold

bench-calls: $(TOOLS_STAMP)
	VENV=$(VENV) bench/coldstart/run.sh calls

# One execution environment's records per second with AWS_LAMBDA_MAX_CONCURRENCY unset and 8,
# 20 ms on every idempotency store call (STORE_LATENCY_MS), the runs alternating (ROUNDS).
bench-instances:
	$(CARGO) bench -p handler-kit --features aws --bench managed-instances

# The whole stack on its production code paths (tests/e2e/run.py says what it does and what it
# plays for AWS where moto does not). Each function process reads its domain's clock through
# libfaketime (Debian's faketime package, installed here if missing). Report: target/e2e/.
# Then SAM checks the template and builds what it would deploy (rust-cargolambda, arm64).
E2E_OUT := $(or $(CARGO_TARGET_DIR),target)/e2e
FAKETIME_LIB := /usr/lib/$(shell gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/faketime/libfaketime.so.1

e2e: $(TOOLS_STAMP) $(FAKETIME_LIB)
	$(CARGO) build --quiet --release $(addprefix -p ,$(FUNCTIONS))
	$(CARGO) build --quiet --release -p sensor-stores --features dynamodb --bin sensor-catalogue
	$(CARGO) build --quiet --release -p event-tools --bin events
	$(CARGO) build --quiet --profile tools -p localcloud
	FAKETIME_LIB=$(FAKETIME_LIB) $(VENV)/bin/python tests/e2e/run.py $(or $(CARGO_TARGET_DIR),target)/release $(LOCALCLOUD_TOOLS) --out $(E2E_OUT)
	$(MAKE) --no-print-directory sam-build

$(FAKETIME_LIB):
	@command -v apt-get >/dev/null || { echo "make e2e needs libfaketime: install your system's faketime package"; exit 1; }
	$(APT_INSTALL) faketime || { $(APT_UPDATE) && $(APT_INSTALL) faketime; }

# aws-sam-cli pins its own versions of boto3 and cfn-lint: it gets a venv of its own.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed

$(SAM_STAMP): requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

sam-validate: $(SAM_STAMP)
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template infra/template.yaml --region eu-west-1

sam-build: $(SAM_STAMP) $(TOOLS_STAMP)
	rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)
	SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam build --template infra/template.yaml \
	  --beta-features --build-dir $(or $(CARGO_TARGET_DIR),target)/sam-build

# Deploys the stack to a real AWS account: needs AWS credentials and the SAM CLI on PATH, which
# `make tools` deliberately does not install. SAM's rust-cargolambda builder (a beta feature) runs
# cargo-lambda and zig from .venv; settings (stack, region, capabilities) are in infra/samconfig.toml.
deploy: $(TOOLS_STAMP)
	@command -v sam >/dev/null || { echo "make deploy needs the AWS SAM CLI on PATH (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)"; exit 1; }
	rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sam build --template infra/template.yaml --beta-features
	sam deploy --config-file infra/samconfig.toml

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(SAM_VENV)
