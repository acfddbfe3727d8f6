# The paper's experiment on Anthropic HH-RLHF, end to end, as file targets with real dependencies:
#
#   tokenize -> embed -> [SFT] -> reference log-probs -> pairs -> train (each variant, evaluated on validation
#   pairs as it goes) -> held-out preference metrics on the test pairs -> sample the test prompts -> judge
#   against the dataset's chosen response with a validated judge -> results table and plots
#
# Three splits with no prompt in two of them (scripts/split_hh.py): train (1,800 pairs), validation (256: settings
# and the judge's L2 penalty are chosen there, and the in-training evaluation runs there), test (256: measured
# once, at the end, never tuned on).
#
# so `make -j` runs independent variants side by side and a re-run redoes only what changed. Usage:
#   make -f pipelines/hh.mk [target] [VAR=value ...]        (the top-level `make demo` / `make experiment`)
# Targets: all (default: results), data, sft, scored, train, heldout, samples, judge, judgments, results, clean.
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

# Data (docs/method.md §10, §12): official tokenisation, keep_end truncation for hh.
MAX_LENGTH        ?= 512
MAX_PROMPT_LENGTH ?= 256
N_TRAIN           ?=          # first N train pairs (empty: all 1,800)
N_VAL             ?= 64       # first N validation pairs evaluated during training (empty: all 256)
N_EVAL            ?=          # first N test pairs of the held-out preference metrics (empty: all 256)
N_TEST            ?= 256      # test prompts sampled and judged

# Batches and training (§9-§10): global batch 64, contrast scope 8 (the paper's per-GPU batch).
BATCH        ?= 64
MICRO        ?= 8
EPOCHS       ?= 1
LR           ?= 5e-7     # LR_<variant> (e.g. LR_dpo=1e-5) overrides it for one variant
BETA         ?= 0.1
WARMUP       ?= 150
MEM_MICRO    ?= 8        # sequences through the model at once (memory only)
CHECKPOINT_EVERY ?= 10
EVAL_FIRST   ?= 1        # 0: no evaluation before the first step
EVAL_EVERY   ?= 640      # in-training evaluation on the validation pairs every N training examples (rounded down
                         # to a multiple of BATCH), before the first step and after the last when it is a multiple
BOOTSTRAP    ?= 10000    # resamples of every 95% interval
SFT          ?= 1        # 1: an SFT stage first, policy and reference start from it; 0: start from MODEL
SFT_LR       ?= $(LR)

# The variants to train: dpo, rpo-paired-<tau>, rpo-unpaired-<tau>, rpo-uniform, rpo-diagonal, ipo, cdpo,
# slic, kto-simple, kto-zero. `start` (the starting policy, untrained) is always sampled and judged.
VARIANTS     ?= dpo rpo-paired-0.25 rpo-paired-0.5 rpo-paired-0.75 rpo-unpaired-0.5 rpo-uniform rpo-diagonal

# Sampling (§14): top-p 0.95, total length 512 as upstream; judging (§15): the dialogue prompt.
SAMPLE_ARGS  ?= --top-p 0.95 --max-length 512
# The judge: the paper's (gpt-4-0613 through the API) when OPENAI_API_KEY is set, else the reward judge (a
# Bradley-Terry head on all-MiniLM-L6-v2 embeddings, fitted on the train split, its L2 penalty chosen on validation);
# JUDGE=local: SmolLM2 asked the paper's question, both orders, position bias calibrated out. Whichever it is, it is
# validated first on the test pairs (chosen vs rejected: its agreement with the human labels, with its interval),
# and the report says whether its win rates mean anything.
JUDGE        ?= $(if $(OPENAI_API_KEY),api,reward)
JUDGE_MODEL  ?= $(MODEL)
REWARD_L2    ?= 1e-3,1e-2,1e-1,1
N_JUDGE_VAL  ?=          # first N test pairs of the judge's validation (empty: all 256)
JUDGE_ARGS   ?= $(if $(filter api,$(JUDGE)),--judge api --api-model gpt-4-0613,$(if $(filter reward,$(JUDGE)),--judge reward --reward-model $(OUT)/judge/reward.json,--judge local --calibrate --local-model $(JUDGE_MODEL)))

# TOOLS_INVALIDATE=0: a rebuilt tool does not make finished stages out of date (a long experiment resumed after
# the toolkit was rebuilt); the tools are then order-only prerequisites.
TOOLS_INVALIDATE ?= 1
T := $(if $(filter 0,$(strip $(TOOLS_INVALIDATE))),|)
TOOLS := $(BIN)/rpo-tokenize $(BIN)/rpo-embed $(BIN)/rpo-pairs $(BIN)/rpo-train $(BIN)/rpo-sample $(BIN)/rpo-judge $(BIN)/rpo-report

.PHONY: all data sft scored train heldout samples judge judgments results clean
all: results

# ---- data: example records (one per pair) for train and test --------------------------------------------
# The prepared data (tokenized, embedded, reference-scored); another run with another SEED may share it.
DATA ?= $(OUT)/data
D := $(DATA)
$(D)/train.examples.zst: $(SPLIT_DIR)/train.jsonl.gz $(T) $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	gzip -dc $< | $(if $(strip $(N_TRAIN)),{ head -n $(N_TRAIN); cat > /dev/null; } |) \
	  $(BIN)/rpo-tokenize --dataset hh --split train --tokenizer $(MODEL) \
	    --max-length $(MAX_LENGTH) --max-prompt-length $(MAX_PROMPT_LENGTH) -o $@
$(D)/test.examples.zst: $(SPLIT_DIR)/test.jsonl.gz $(T) $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	$(BIN)/rpo-tokenize --dataset hh --split test --tokenizer $(MODEL) \
	  --max-length $(MAX_LENGTH) --max-prompt-length $(MAX_PROMPT_LENGTH) $< -o $@
$(D)/validation.examples.zst: $(SPLIT_DIR)/validation.jsonl.gz $(T) $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	gzip -dc $< | $(if $(strip $(N_VAL)),{ head -n $(N_VAL); cat > /dev/null; } |) \
	  $(BIN)/rpo-tokenize --dataset hh --split validation --tokenizer $(MODEL) \
	    --max-length $(MAX_LENGTH) --max-prompt-length $(MAX_PROMPT_LENGTH) -o $@
# The test pairs of the held-out preference metrics (the first N_EVAL; all 256 by default).
$(D)/eval.examples.zst: $(SPLIT_DIR)/test.jsonl.gz $(T) $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	gzip -dc $< | $(if $(strip $(N_EVAL)),{ head -n $(N_EVAL); cat > /dev/null; } |) \
	  $(BIN)/rpo-tokenize --dataset hh --split test --tokenizer $(MODEL) \
	    --max-length $(MAX_LENGTH) --max-prompt-length $(MAX_PROMPT_LENGTH) -o $@
# Prompt embeddings for RPO's contrast matrices (§8: the post-truncation prompt text).
$(D)/%.embedded.zst: $(D)/%.examples.zst $(T) $(BIN)/rpo-embed
	$(BIN)/rpo-embed --model $(ENCODER) $< -o $@
data: $(D)/train.embedded.zst $(D)/validation.embedded.zst $(D)/test.examples.zst $(D)/eval.examples.zst

# ---- SFT: the chosen response of each unique prompt, one epoch (§1) --------------------------------------
ifeq ($(SFT),1)
START := $(OUT)/sft/run/latest
$(OUT)/sft/batches.zst: $(D)/train.embedded.zst $(T) $(BIN)/rpo-pairs
	@mkdir -p $(@D)
	$(BIN)/rpo-pairs --layout sft --batch-size $(BATCH) --weighting none --epochs $(EPOCHS) --seed $(SEED) $< -o $@
$(OUT)/sft/metrics.jsonl: $(OUT)/sft/batches.zst $(T) $(BIN)/rpo-train
	$(call train_cmd,$(OUT)/sft,sft,$(MODEL),$(SFT_LR))
$(START): $(OUT)/sft/metrics.jsonl
	@test -e $@
sft: $(OUT)/sft/metrics.jsonl
else
START := $(MODEL)
sft:
endif

# ---- reference log-probs, once, under the starting policy (it is also the frozen reference) -------------
$(D)/%.scored.zst: $(D)/%.embedded.zst $(START) $(T) $(BIN)/rpo-train
	$(BIN)/rpo-train score --model $(START) --micro-batch $(MEM_MICRO) $< -o $@
$(D)/eval.scored.zst: $(D)/eval.examples.zst $(START) $(T) $(BIN)/rpo-train
	$(BIN)/rpo-train score --model $(START) --micro-batch $(MEM_MICRO) $< -o $@
scored: $(D)/train.scored.zst $(D)/validation.scored.zst $(D)/eval.scored.zst

# ---- one variant = batches + training run ----------------------------------------------------------------
# $(call train_cmd,DIR,LOSS,MODEL,LR[,EVAL_BATCHES]): train into DIR/run (resuming a killed run), metrics (and
# the in-training evaluations on EVAL_BATCHES) to DIR/metrics.jsonl.
define train_cmd
	@mkdir -p $(1)
	$(BIN)/rpo-train --loss $(2) --model $(3) --lr $(4) --beta $(if $(filter slic,$(2)),1.0,$(BETA)) \
	  --warmup-steps $(WARMUP) --micro-batch $(MEM_MICRO) --checkpoint-every $(CHECKPOINT_EVERY) --seed $(SEED) \
	  $(if $(5),--eval $(5) --eval-every $(EVAL_EVERY) $(if $(filter 0,$(EVAL_FIRST)),--no-first-eval)) \
	  $(if $(wildcard $(1)/run/latest),--resume $(1)/run,--out $(1)/run) --no-progress \
	  $(1)/batches.zst >> $(1)/metrics.log
	mv $(1)/metrics.log $(1)/metrics.jsonl
endef

loss_of     = $(if $(filter rpo-paired-% rpo-clustered-% rpo-uniform,$(1)),rpo-paired,$(if $(filter rpo-unpaired-%,$(1)),rpo-unpaired,$(1)))
layout_of   = $(if $(filter rpo-unpaired-% kto-simple kto-zero,$(1)),unpaired,paired)
weighting_of = $(if $(filter rpo-paired-% rpo-clustered-% rpo-unpaired-%,$(1)),embedding --tau $(lastword $(subst -, ,$(1))),$(if $(filter rpo-uniform,$(1)),uniform,$(if $(filter rpo-diagonal,$(1)),diagonal,none)))
# rpo-clustered-TAU: rpo-paired whose micro-batches hold similar prompts (rpo-pairs --grouping similar)
grouping_of = $(if $(filter rpo-clustered-%,$(1)),--grouping similar)

# Held-out batches for the in-training evaluation: the validation pairs in the variant's own layout and contrast
# matrices, one micro-batch per batch record.
define variant_rules
$(OUT)/$(1)/batches.zst: $(D)/train.scored.zst $(T) $(BIN)/rpo-pairs
	@mkdir -p $$(@D)
	$(BIN)/rpo-pairs --layout $(call layout_of,$(1)) --weighting $(call weighting_of,$(1)) $(call grouping_of,$(1)) \
	  --batch-size $(BATCH) --micro-batch $(MICRO) --epochs $(EPOCHS) --seed $(SEED) --stats $$< -o $$@ \
	  2> >(tee $$(@D)/pairs.log >&2)
$(OUT)/$(1)/eval-batches.zst: $(D)/validation.scored.zst $(T) $(BIN)/rpo-pairs
	@mkdir -p $$(@D)
	$(BIN)/rpo-pairs --layout $(call layout_of,$(1)) --weighting $(call weighting_of,$(1)) $(call grouping_of,$(1)) \
	  --batch-size $(MICRO) --micro-batch $(MICRO) --epochs 1 --seed $(SEED) $$< -o $$@
$(OUT)/$(1)/metrics.jsonl: $(OUT)/$(1)/batches.zst $(OUT)/$(1)/eval-batches.zst $(START) $(T) $(BIN)/rpo-train
	$$(call train_cmd,$(OUT)/$(1),$(call loss_of,$(1)),$(START),$(or $(LR_$(1)),$(LR)),$(OUT)/$(1)/eval-batches.zst)
$(OUT)/$(1)/samples.zst: $(OUT)/$(1)/metrics.jsonl
$(OUT)/$(1)/heldout.json: $(OUT)/$(1)/metrics.jsonl
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))
train: $(foreach v,$(VARIANTS),$(OUT)/$(v)/metrics.jsonl)

# ---- held-out preference metrics on the test pairs (rpo-train eval), differences from start and dpo --------
policy_of = $(if $(filter start,$(1)),$(START),$(OUT)/$(1)/run/latest)
$(OUT)/start/heldout.json: $(START)
$(OUT)/%/heldout.json: $(D)/eval.scored.zst $(T) $(BIN)/rpo-train
	@mkdir -p $(@D)
	$(BIN)/rpo-train eval --model $(call policy_of,$*) --beta $(BETA) --micro-batch $(MEM_MICRO) --no-progress \
	  --bootstrap $(BOOTSTRAP) --seed $(SEED) --summary $@ $< -o $(OUT)/$*/heldout.pairs.zst
$(OUT)/%/vs-start.json: $(OUT)/%/heldout.json $(OUT)/start/heldout.json
	$(BIN)/rpo-train eval --against $(OUT)/start/heldout.pairs.zst --beta $(BETA) --bootstrap $(BOOTSTRAP) \
	  --seed $(SEED) --summary $@ $(OUT)/$*/heldout.pairs.zst -o $(OUT)/$*/vs-start.pairs.zst
$(OUT)/%/vs-dpo.json: $(OUT)/%/heldout.json $(OUT)/dpo/heldout.json
	$(BIN)/rpo-train eval --against $(OUT)/dpo/heldout.pairs.zst --beta $(BETA) --bootstrap $(BOOTSTRAP) \
	  --seed $(SEED) --summary $@ $(OUT)/$*/heldout.pairs.zst -o $(OUT)/$*/vs-dpo.pairs.zst
HELDOUT := $(foreach v,start $(VARIANTS),$(OUT)/$(v)/heldout.json) $(foreach v,$(VARIANTS),$(OUT)/$(v)/vs-start.json) \
           $(if $(filter dpo,$(VARIANTS)),$(foreach v,$(filter-out dpo,$(VARIANTS)),$(OUT)/$(v)/vs-dpo.json))
heldout: $(HELDOUT)

# ---- the judge: fitted (reward judge) and validated on the test pairs before it judges anything ------------
# All 1,800 train pairs fit the head (whatever N_TRAIN), all 256 validation pairs choose its L2 penalty.
$(OUT)/judge/%.examples.zst: $(SPLIT_DIR)/%.jsonl.gz $(T) $(BIN)/rpo-tokenize
	@mkdir -p $(@D)
	$(BIN)/rpo-tokenize --dataset hh --split $* --tokenizer $(MODEL) --max-length $(MAX_LENGTH) \
	  --max-prompt-length $(MAX_PROMPT_LENGTH) $< -o $@
$(OUT)/judge/reward.json: $(OUT)/judge/train.examples.zst $(OUT)/judge/validation.examples.zst $(T) $(BIN)/rpo-judge
	$(BIN)/rpo-judge fit-reward --encoder $(ENCODER) --validation $(OUT)/judge/validation.examples.zst \
	  --l2 $(REWARD_L2) $< -o $@
$(OUT)/judge/validation.json: $(D)/test.examples.zst $(if $(filter reward,$(JUDGE)),$(OUT)/judge/reward.json) $(T) $(BIN)/rpo-judge
	$(BIN)/rpo-judge --validate --task dialogue $(JUDGE_ARGS) --max-comparisons $(or $(N_JUDGE_VAL),0) --seed 0 \
	  --bootstrap $(BOOTSTRAP) --summary $@ $< -o $(OUT)/judge/validation.judgments.zst
# A sanity check next to it: correct answers against gibberish (data/judge-sanity/gibberish.jsonl).
$(OUT)/judge/sanity.json: data/judge-sanity/gibberish.jsonl $(if $(filter reward,$(JUDGE)),$(OUT)/judge/reward.json) $(T) $(BIN)/rpo-judge
	$(BIN)/rpo-judge --validate --task dialogue $(JUDGE_ARGS) --max-comparisons 0 --seed 0 --bootstrap $(BOOTSTRAP) \
	  --summary $@ $< -o $(OUT)/judge/sanity.judgments.zst
judge: $(OUT)/judge/validation.json $(OUT)/judge/sanity.json

# ---- sampling and judging: the test prompts, against the dataset's chosen response --------------------------
$(OUT)/start/samples.zst: $(START)
$(OUT)/%/samples.zst: $(D)/test.examples.zst $(T) $(BIN)/rpo-sample
	@mkdir -p $(@D)
	$(BIN)/rpo-sample --model $(call policy_of,$*) --n-samples $(N_TEST) $(SAMPLE_ARGS) --seed $(SEED) $< -o $@
$(OUT)/%/summary.json: $(OUT)/%/samples.zst $(OUT)/judge/validation.json $(T) $(BIN)/rpo-judge
	$(BIN)/rpo-judge --task dialogue --candidate policy --baseline chosen $(JUDGE_ARGS) \
	  --max-comparisons $(N_TEST) --seed 0 --bootstrap $(BOOTSTRAP) --summary $@ $< -o $(OUT)/$*/judgments.zst
samples: $(foreach v,start $(VARIANTS),$(OUT)/$(v)/samples.zst)
judgments: $(foreach v,start $(VARIANTS),$(OUT)/$(v)/summary.json)

# ---- results: markdown and CSV table, PNG plots ----------------------------------------------------------
$(OUT)/results.md: $(foreach v,start $(VARIANTS),$(OUT)/$(v)/summary.json) $(HELDOUT) $(OUT)/judge/validation.json \
                   $(OUT)/judge/sanity.json $(T) $(BIN)/rpo-report
	$(BIN)/rpo-report $(OUT) start $(VARIANTS)
results: $(OUT)/results.md
	@cat $<
	@echo "results: $(OUT)/results.md $(OUT)/results.csv $(OUT)/plots/"

clean:
	rm -rf $(OUT)
