#!/usr/bin/env bash
# Tokenizer encode throughput on the HH-RLHF harmless-base test transcripts (chosen + rejected, 4,624
# texts, ~3 MB), GPT-2 byte-level BPE: ours (one core and two) next to HF tokenizers and tiktoken, measured
# in the same command. Ours runs through `rpo-bench tokenize` (the formats area's benchmark tool, calling
# TokenizerBenchmark.run); the Python side needs tokenizers and tiktoken (pinned: tokenizers 0.23.3,
# tiktoken 0.14.0) and the GPT-2 files of Tests/Fixtures/tokenizers/gpt2 (unpacked to a temporary directory).
# Timings on a shared machine are noisy: re-run on a quiet one before quoting them.
set -uo pipefail
cd "$(dirname "$0")/../.."
DATA=data/hh-rlhf/harmless-base/test.jsonl.gz
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/gpt2"
for f in vocab.json merges.txt; do zstd -q -d -c "Tests/Fixtures/tokenizers/gpt2/$f.zst" > "$TMP/gpt2/$f"; done
cp Tests/Fixtures/tokenizers/gpt2/*.json "$TMP/gpt2/"

ours_1=""; ours_2=""
if [ -x .build/release/rpo-bench ]; then
  # Prints "<threads> <MB/s> <tokens/s>" lines.
  out=$(.build/release/rpo-bench tokenize --tokenizer "$TMP/gpt2" "$DATA") || exit 1
  echo "$out" | sed 's/^/  /'
  ours_1=$(echo "$out" | awk '$1 == 1 {print $2}')
  ours_2=$(echo "$out" | awk '$1 == 2 {print $2}')
else
  echo "  rpo-bench is not built (.build/release/rpo-bench): our side is skipped"
fi

python3 - "$TMP/gpt2" "$DATA" "$ours_1" "$ours_2" <<'EOF'
import gzip, json, os, sys, time
gdir, data, ours1, ours2 = sys.argv[1:5]
texts = []
for line in gzip.open(data, "rt"):
    r = json.loads(line)
    texts += [r["chosen"], r["rejected"]]
nbytes = sum(len(t.encode()) for t in texts)

def best(f, reps=3):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); n = f(); ts.append(time.perf_counter() - t0)
    return min(ts), n

rows = []
try:
    from tokenizers import Tokenizer, models, pre_tokenizers
    tk = Tokenizer(models.BPE.from_file(os.path.join(gdir, "vocab.json"), os.path.join(gdir, "merges.txt")))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    os.environ["RAYON_NUM_THREADS"] = "1"
    t, n = best(lambda: sum(len(tk.encode(x, add_special_tokens=False).ids) for x in texts))
    rows.append(("HF tokenizers (1 core, encode)", nbytes / t / 1e6, n / t))
    t, n = best(lambda: sum(len(e.ids) for e in tk.encode_batch(texts, add_special_tokens=False)))
    rows.append(("HF tokenizers (encode_batch, rayon)", nbytes / t / 1e6, n / t))
except ImportError:
    print("  tokenizers not installed: skipped")
try:
    import tiktoken
except ImportError:
    tiktoken = None
    print("  tiktoken not installed: skipped")
if tiktoken is not None:
    # GPT-2 ranks from the same vocab.json (token ids equal GPT-2 ranks), no network access.
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    ranks = data_gym_to_mergeable_bpe_ranks(os.path.join(gdir, "merges.txt"), os.path.join(gdir, "vocab.json"))
    enc = tiktoken.Encoding("gpt2-local", pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                            mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256})
    t, n = best(lambda: sum(len(enc.encode_ordinary(x)) for x in texts))
    rows.append(("tiktoken (1 core)", nbytes / t / 1e6, n / t))
    t, n = best(lambda: sum(len(x) for x in enc.encode_ordinary_batch(texts, num_threads=2)))
    rows.append(("tiktoken (2 threads)", nbytes / t / 1e6, n / t))
print(f"  {len(texts)} texts, {nbytes / 1e6:.2f} MB")
for name, mbs, tps in rows:
    print(f"  {name:40s} {mbs:8.2f} MB/s {tps / 1e6:8.3f} Mtok/s")
for label, ours in (("1 core", ours1), ("2 cores", ours2)):
    if ours:
        for name, mbs, _ in rows:
            print(f"  ratio ours ({label}) / {name}: {float(ours) / mbs:.2f}x")
EOF
