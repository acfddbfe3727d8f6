# The paper's experiment on Anthropic HH-RLHF, end to end, as file targets with real dependencies:
#
#   tokenize -> embed -> [SFT] -> reference log-probs -> pairs -> train (each variant) -> sample the test
#   prompts -> judge against the dataset's chosen response -> results table and plots
#
# so `make -j` runs independent variants side by side and a re-run redoes only what changed. Usage:
#   make -f pipelines/hh.mk [target] [VAR=value ...]        (the top-level `make demo` / `make experiment`)
# Targets: all (default: results), data, sft, scored, train, samples, judgments, results, clean.
# A killed training run resumes from its last checkpoint when the target is made again.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:

BIN          ?= .build/release
MODEL        ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
ENCODER      ?= models/all-MiniLM-L6-v2
SPLIT_DIR    ?= data/hh-rlhf/split
OUT          ?= out/hh
SEED         ?= 1

# Data (rpo-method.md §10, §12): official tokenisation, keep_end truncation for hh.
MAX_LENGTH        ?= 512
MAX_PROMPT_LENGTH ?= 256
N_TRAIN           ?=          # first N train pairs (empty: all 2,056)
N_TEST            ?= 256      # test prompts sampled and judged

# Batches and training (§9-§10): global batch 64, contrast scope 8 (the paper's per-GPU batch).
BATCH        ?= 64
MICRO        ?= 8
EPOCHS       ?= 1
LR           ?= 5e-7
BETA         ?= 0.1
WARMUP       ?= 150
MEM_MICRO    ?= 8        # sequences through the model at once (memory only)
CHECKPOINT_EVERY ?= 10
SFT          ?= 1        # 1: an SFT stage first, policy and reference start from it; 0: start from MODEL
SFT_LR       ?= $(LR)

# The variants to train: dpo, rpo-paired-<tau>, rpo-unpaired-<tau>, rpo-uniform, rpo-diagonal, ipo, cdpo,
# slic, kto-simple, kto-zero. `start` (the starting policy, untrained) is always sampled and judged.
VARIANTS     ?= dpo rpo-paired-0.25 rpo-paired-0.5 rpo-paired-0.75 rpo-unpaired-0.5 rpo-uniform rpo-diagonal

# Sampling (§14): top-p 0.95, total length 512 as upstream; judging (§15): the dialogue prompt.
SAMPLE_ARGS  ?= --top-p 0.95 --max-length 512
JUDGE        ?= $(if $(OPENAI_API_KEY),api,local)
JUDGE_MODEL  ?= $(MODEL)
# The API judge as the paper (one seeded order); a local judge in both orders with balanced position
# calibration (small models mostly pick a position; rpo-judge --help).
JUDGE_ARGS   ?= $(if $(filter api,$(JUDGE)),--judge api --api-model gpt-4-0613,--judge local --calibrate --local-model $(JUDGE_MODEL))

TOOLS := $(BIN)/rpo-tokenize $(BIN)/rpo-embed $(BIN)/rpo-pairs $(BIN)/rpo-train $(BIN)/rpo-sample $(BIN)/rpo-judge

.PHONY: all data sft scored train samples judgments results clean
all: results

# ---- data: example records (one per pair) for train and test --------------------------------------------
D := $(OUT)/data
$(D)/train.examples.zst: $(SPLIT_DIR)/train.jsonl.gz $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	gzip -dc $< | $(if $(strip $(N_TRAIN)),{ head -n $(N_TRAIN); cat > /dev/null; } |) \
	  $(BIN)/rpo-tokenize --dataset hh --split train --tokenizer $(MODEL) \
	    --max-length $(MAX_LENGTH) --max-prompt-length $(MAX_PROMPT_LENGTH) -o $@
$(D)/test.examples.zst: $(SPLIT_DIR)/test.jsonl.gz $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	$(BIN)/rpo-tokenize --dataset hh --split test --tokenizer $(MODEL) \
	  --max-length $(MAX_LENGTH) --max-prompt-length $(MAX_PROMPT_LENGTH) $< -o $@
# Prompt embeddings for RPO's contrast matrices (§8: the post-truncation prompt text).
$(D)/train.embedded.zst: $(D)/train.examples.zst $(BIN)/rpo-embed
	$(BIN)/rpo-embed --model $(ENCODER) $< -o $@
data: $(D)/train.embedded.zst $(D)/test.examples.zst

# ---- SFT: the chosen response of each unique prompt, one epoch (§1) --------------------------------------
ifeq ($(SFT),1)
START := $(OUT)/sft/run/latest
$(OUT)/sft/batches.zst: $(D)/train.embedded.zst $(BIN)/rpo-pairs
	@mkdir -p $(@D)
	$(BIN)/rpo-pairs --layout sft --batch-size $(BATCH) --weighting none --epochs $(EPOCHS) --seed $(SEED) $< -o $@
$(OUT)/sft/metrics.jsonl: $(OUT)/sft/batches.zst $(BIN)/rpo-train
	$(call train_cmd,$(OUT)/sft,sft,$(MODEL),$(SFT_LR))
$(START): $(OUT)/sft/metrics.jsonl
	@test -e $@
sft: $(OUT)/sft/metrics.jsonl
else
START := $(MODEL)
sft:
endif

# ---- reference log-probs, once, under the starting policy (it is also the frozen reference) -------------
$(D)/train.scored.zst: $(D)/train.embedded.zst $(START) $(BIN)/rpo-train
	$(BIN)/rpo-train --score --model $(START) --micro-batch $(MEM_MICRO) $< -o $@
scored: $(D)/train.scored.zst

# ---- one variant = batches + training run ----------------------------------------------------------------
# $(call train_cmd,DIR,LOSS,MODEL,LR): train into DIR/run (resuming a killed run), metrics to DIR/metrics.jsonl.
define train_cmd
	@mkdir -p $(1)
	$(BIN)/rpo-train --loss $(2) --model $(3) --lr $(4) --beta $(if $(filter slic,$(2)),1.0,$(BETA)) \
	  --warmup-steps $(WARMUP) --micro-batch $(MEM_MICRO) --checkpoint-every $(CHECKPOINT_EVERY) --seed $(SEED) \
	  $(if $(wildcard $(1)/run/latest),--resume $(1)/run,--out $(1)/run) --no-progress \
	  $(1)/batches.zst >> $(1)/metrics.log
	mv $(1)/metrics.log $(1)/metrics.jsonl
endef

loss_of     = $(if $(filter rpo-paired-% rpo-uniform,$(1)),rpo-paired,$(if $(filter rpo-unpaired-%,$(1)),rpo-unpaired,$(1)))
layout_of   = $(if $(filter rpo-unpaired-% kto-simple kto-zero,$(1)),unpaired,paired)
weighting_of = $(if $(filter rpo-paired-% rpo-unpaired-%,$(1)),embedding --tau $(lastword $(subst -, ,$(1))),$(if $(filter rpo-uniform,$(1)),uniform,$(if $(filter rpo-diagonal,$(1)),diagonal,none)))

define variant_rules
$(OUT)/$(1)/batches.zst: $(D)/train.scored.zst $(BIN)/rpo-pairs
	@mkdir -p $$(@D)
	$(BIN)/rpo-pairs --layout $(call layout_of,$(1)) --weighting $(call weighting_of,$(1)) \
	  --batch-size $(BATCH) --micro-batch $(MICRO) --epochs $(EPOCHS) --seed $(SEED) --stats $$< -o $$@
$(OUT)/$(1)/metrics.jsonl: $(OUT)/$(1)/batches.zst $(START) $(BIN)/rpo-train
	$$(call train_cmd,$(OUT)/$(1),$(call loss_of,$(1)),$(START),$(LR))
$(OUT)/$(1)/samples.zst: $(OUT)/$(1)/metrics.jsonl
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))
train: $(foreach v,$(VARIANTS),$(OUT)/$(v)/metrics.jsonl)

# ---- evaluation: sample the test prompts, judge against the dataset's chosen response ----------------------
policy_of = $(if $(filter start,$(1)),$(START),$(OUT)/$(1)/run/latest)
$(OUT)/start/samples.zst: $(START)
$(OUT)/%/samples.zst: $(D)/test.examples.zst $(BIN)/rpo-sample
	@mkdir -p $(@D)
	$(BIN)/rpo-sample --model $(call policy_of,$*) --n-samples $(N_TEST) $(SAMPLE_ARGS) --seed $(SEED) $< -o $@
$(OUT)/%/summary.json: $(OUT)/%/samples.zst $(BIN)/rpo-judge
	$(BIN)/rpo-judge --task dialogue --candidate policy --baseline chosen $(JUDGE_ARGS) \
	  --max-comparisons $(N_TEST) --seed 0 --summary $@ $< -o $(OUT)/$*/judgments.zst
samples: $(foreach v,start $(VARIANTS),$(OUT)/$(v)/samples.zst)
judgments: $(foreach v,start $(VARIANTS),$(OUT)/$(v)/summary.json)

# ---- results: markdown and CSV table, PNG plots ----------------------------------------------------------
$(OUT)/results.md: $(foreach v,start $(VARIANTS),$(OUT)/$(v)/summary.json) scripts/report.py
	python3 scripts/report.py $(OUT) start $(VARIANTS)
results: $(OUT)/results.md
	@cat $<
	@echo "results: $(OUT)/results.md $(OUT)/results.csv $(OUT)/plots/"

clean:
	rm -rf $(OUT)
