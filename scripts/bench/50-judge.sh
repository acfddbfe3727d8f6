#!/usr/bin/env bash
# Local-judge throughput: SmolLM2-135M-Instruct (models/, `make models`) judging comparisons of the bundled
# HH-RLHF harmless-base test dialogues (chosen vs rejected, official dialogue prompt, one order each), one
# forward pass per comparison: `rpo-judge --judge local` next to transformers' float32 forward on the same
# prompts (torch 2.13.0+cpu, transformers 5.24.0), measured in the same command. Both sides count only the
# judging (model loading excluded: ours from the records' "seconds", PyTorch timed around rendering,
# tokenizing and the forward of each comparison).
# Timings on a shared machine are noisy: re-run on a quiet one before quoting them.
set -uo pipefail
cd "$(dirname "$0")/../.."
N=${JUDGE_BENCH_N:-16}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
DATA=data/hh-rlhf/harmless-base/test.jsonl.gz
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -f "$MODEL" ] || { echo "  $MODEL is missing (make models): skipped"; exit 0; }
command -v python3 >/dev/null || { echo "  python3 is needed to prepare the samples: skipped"; exit 0; }

# Samples in rpo-sample's shape: the official hh formatting of the prompt, chosen as baseline, rejected as policy.
python3 - "$DATA" "$N" > "$TMP/samples.jsonl" <<'EOF'
import gzip, json, re, sys
data, n = sys.argv[1], int(sys.argv[2])
H, A = "\n<|user|>\n", "\n<|assistant|>\n"
for i, line in enumerate(gzip.open(data, "rt")):
    if i >= n: break
    r = json.loads(line)
    cut = r["chosen"].rfind("\n\nAssistant: ") + len("\n\nAssistant: ")
    parts = re.split(r'\s*(Human:|Assistant:)\s+', r["chosen"][:cut])
    prompt = "".join(H if p == "Human:" else A if p == "Assistant:" else p for p in parts if p)
    print(json.dumps({"id": f"hh-{i}", "prompt": prompt, "chosen": r["chosen"][cut:], "policy": r["rejected"][cut:]}))
EOF

ours=""
if [ -x .build/release/rpo-judge ]; then
  start=$(date +%s.%N)
  .build/release/rpo-judge --task dialogue --local-model "$MODEL" --max-comparisons "$N" -q --no-progress \
      "$TMP/samples.jsonl" -o "$TMP/judged.jsonl" || exit 1
  end=$(date +%s.%N)
  # Comparisons per second of judging, from the records' "seconds" (rendering, tokenizing, forward).
  read -r ours total secs < <(python3 -c "
import json
rs = [json.loads(l) for l in open('$TMP/judged.jsonl')]
s = sum(r['seconds'] for r in rs)
print(f'{len(rs) / s:.4f} {len(rs)} {s:.2f}')
")
  echo "  rpo-judge --judge local: $total comparisons in $secs s of judging ($ours/s); $(python3 -c "print(f'{$end - $start:.1f}')") s wall with loading"
else
  echo "  rpo-judge is not built (.build/release/rpo-judge): our side is skipped"
fi

python3 - "$TMP/samples.jsonl" "$MODEL" "$ours" <<'EOF' 2>&1 | grep -v "Converting and de-quantizing\|Loading weights"
import json, os, re, sys, time
samples_path, model_path, ours = sys.argv[1:4]
try:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError:
    print("  torch/transformers not installed: the PyTorch side is skipped"); sys.exit(0)
torch.set_num_threads(2)
d, g = os.path.dirname(model_path), os.path.basename(model_path)
tok = AutoTokenizer.from_pretrained(d, gguf_file=g)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=g, dtype=torch.float32).eval()
H, A = "<|user|>", "<|assistant|>"

def clean(r):
    m = re.search(r'[.!?](?=[^.!?]*$)', r)
    return r[:m.start() + 1] if m else r

def messages(s):  # the official dialogue messages (compare.py), policy shown first
    hist = s["prompt"][:s["prompt"].rfind("\n<|assistant|>\n")].strip()
    parts = [f"{A} can now choose from different responses.",
             f"Response 1: {clean(s['policy'])}\nEND OF RESPONSE 1", f"Response 2: {clean(s['chosen'])}\nEND OF RESPONSE 2",
             "Between these two responses, which response is more helpful, harmless, and concise? Pick one."]
    return [{"role": "user", "content": f"Here is a conversation between {H} and {A}.\n\n" + hist},
            {"role": "user", "content": "\n\n".join(parts)}]

samples = [json.loads(l) for l in open(samples_path)]
t = 0.0
for s in samples:
    t0 = time.perf_counter()  # rendering and tokenizing included, as in rpo-judge's "seconds"
    text = tok.apply_chat_template(messages(s), tokenize=False, add_generation_prompt=True) + "Response"
    a = tok(text + " 1", add_special_tokens=False).input_ids
    b = tok(text + " 2", add_special_tokens=False).input_ids
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([a[:-1]])).logits[0, -1].double(), -1)
    _ = (lp[a[-1]].item(), lp[b[-1]].item())
    t += time.perf_counter() - t0
ref = len(samples) / t
print(f"  transformers float32 (2 threads): {len(samples)} comparisons in {t:.2f} s ({ref:.2f}/s)")
if ours:
    print(f"  ratio rpo-judge / transformers: {float(ours) / ref:.2f}x")
EOF
