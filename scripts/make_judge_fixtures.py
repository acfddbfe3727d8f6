#!/usr/bin/env python3
"""Fixtures for rpo-judge (Tests/Fixtures/judging/), produced by the OFFICIAL judge code.

Reference: compare.py of yinyueqin/Relative-Preference-Optimization at c1b51639aaf93796ecf65ca74935bc4193b56592
(sha256 2e6680513ced9f9ea29926e827d369df0d8e124c91da85d91aa4501a59d7c7a6). The file is not copied into
this repository: pass its path with --compare-py, or let the script download it from raw.githubusercontent.com
(the hash is checked either way). Its imports of openai, scipy and transformers are replaced by small stubs,
so that its PromptTemplate / SummarizationPromptTemplate classes and its __main__ loop run unchanged, with a
scripted judge instead of the OpenAI API.

Versions used to produce the committed fixtures: Python 3.11.7, numpy 2.4.6.

Writes:
  prompts.json    judge messages, seeded orders, clean_response/history cases, answer parsing (official classes)
  official.json   two complete runs of the official script (dialogue, summarization) on real HH-RLHF texts
                  with scripted judge answers: every request's messages and parameters, per-item choices,
                  and the results file it writes (wins, total, lengths, win rates)
  python_text.json  Python's str.strip() whitespace set and re.IGNORECASE equivalents of the parsed words
  bootstrap.json  bootstrap 95% intervals: exact (same resample indices as rpo's xoshiro256** RNG, numpy
                  percentiles) and independent (numpy's default_rng), on fixed outcome vectors

Usage: python3 scripts/make_judge_fixtures.py [--compare-py PATH] [--out Tests/Fixtures/judging]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import tempfile
import types
import urllib.request
from contextlib import contextmanager, redirect_stdout

import numpy as np

COMMIT = "c1b51639aaf93796ecf65ca74935bc4193b56592"
SHA256 = "2e6680513ced9f9ea29926e827d369df0d8e124c91da85d91aa4501a59d7c7a6"
URL = f"https://raw.githubusercontent.com/yinyueqin/Relative-Preference-Optimization/{COMMIT}/compare.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

H = "\n<|user|>\n"
A = "\n<|assistant|>\n"


# --------------------------------------------------------------------------------------------------
# Loading the official compare.py with stubbed imports and a scripted judge

class StubAPIStatusError(Exception):
    def __init__(self, message="status error", response=None):
        super().__init__(message)
        self.response = response


class StubRateLimitError(StubAPIStatusError):
    pass


class StubAPIConnectionError(Exception):
    pass


class ScriptedClient:
    """Stands in for openai.OpenAI: answers chat.completions.create from a script and records each call."""

    def __init__(self, api_key=None):
        self.script = []
        self.calls = []
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self.create))

    def create(self, **kwargs):
        # The caller is the official get_preferred_model: its prompt_template has just been shuffled by
        # format() (evaluated as an argument of this call), so its models list is the order shown.
        template = sys._getframe(1).f_locals["prompt_template"]
        call = dict(kwargs, order=list(template.models), choice=None)
        self.calls.append(call)
        item = self.script[len(self.calls) - 1]
        if isinstance(item, dict):
            if item["error"] == "status":
                raise StubAPIStatusError("HTTP 500")
            if item["error"] == "connection":
                raise StubAPIConnectionError("connection refused")
            raise AssertionError(item)
        response = fake_response(item)
        try:
            call["choice"] = template.get_model_choice_from_response(response)
        except ValueError:
            pass
        return response


class CharTokenizer:
    """Stands in for AutoTokenizer: one token per code point, so lengths are Python len()."""

    @classmethod
    def from_pretrained(cls, path):
        return cls()

    def encode(self, text):
        return list(text)


def load_official(path):
    if path:
        source = open(path, "rb").read()
    else:
        source = urllib.request.urlopen(URL, timeout=30).read()
    digest = hashlib.sha256(source).hexdigest()
    if digest != SHA256:
        sys.exit(f"compare.py sha256 {digest} != {SHA256} (expected the file at {COMMIT})")
    return source.decode("utf-8")


STUBBED = ("openai", "scipy", "scipy.stats", "transformers")


@contextmanager
def stubbed_imports():
    """compare.py's imports of openai, scipy and transformers, replaced while it is executed."""
    openai = types.ModuleType("openai")
    openai.OpenAI = ScriptedClient
    openai.APIConnectionError = StubAPIConnectionError
    openai.RateLimitError = StubRateLimitError
    openai.APIStatusError = StubAPIStatusError
    scipy = types.ModuleType("scipy")
    stats = types.ModuleType("scipy.stats")
    stats.binomtest = stats.binom = None
    scipy.stats = stats
    transformers = types.ModuleType("transformers")
    transformers.AutoTokenizer = CharTokenizer
    saved = {k: sys.modules.get(k) for k in STUBBED}
    sys.modules.update({"openai": openai, "scipy": scipy, "scipy.stats": stats, "transformers": transformers})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def module_from(source):
    ns = {"__name__": "compare_official"}
    with stubbed_imports():
        exec(compile(source, "compare.py", "exec"), ns)
    return ns


def fake_response(text):
    message = types.SimpleNamespace(content=text)
    return types.SimpleNamespace(choices=[types.SimpleNamespace(message=message)])


# --------------------------------------------------------------------------------------------------
# Texts: real HH-RLHF dialogues in the Tulu format of the official hh loader, plus edge cases

def hh_rows(indices):
    path = os.path.join(ROOT, "data/hh-rlhf/harmless-base/test.jsonl.gz")
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    out = []
    for i in indices:
        chosen, rejected = rows[i]["chosen"], rows[i]["rejected"]
        cut = chosen.rfind("\n\nAssistant: ") + len("\n\nAssistant: ")
        prompt_raw = chosen[:cut]
        parts = re.split(r'\s*(Human:|Assistant:)\s+', prompt_raw)
        prompt = "".join(H if p == "Human:" else A if p == "Assistant:" else p for p in parts if p)
        out.append({"id": f"hh-{i}", "prompt": prompt, "chosen": chosen[cut:], "policy": rejected[cut:]})
    return out


EDGE_SAMPLES = [
    # No terminal punctuation at all; trailing whitespace after the last sentence; unicode; empty.
    {"id": "edge-0", "prompt": H + "Say something" + A, "chosen": "no punctuation here", "policy": "Done. And then"},
    {"id": "edge-1", "prompt": "  \u3000" + H + "Q?\u00a0" + A + "Earlier answer." + H + "Again" + A,
     "chosen": "Yes! Really? Maybe...", "policy": "  Sure.\n\nMore text without end  "},
    {"id": "edge-2", "prompt": "a prompt without any marker\u2003", "chosen": "", "policy": "\u00bfQu\u00e9? \u00a1S\u00ed! \U0001F600"},
    {"id": "edge-3", "prompt": H + "multi\nline\n" + A + A, "chosen": "ends with a question?", "policy": "a.b.c"},
]

DIALOGUE_ANSWERS = [
    "Response 1", "Response 2", "response 2 is more helpful", "I would pick Response 1.", "Neither response is good.",
    "Both are fine", "RESPONSE 1", "Response  1", "The best is Response 2\n", "Response\n2", "responses 1",
    "Re\u017fponse 2", {"error": "status"}, "Response 2", "Response 1 and Response 2", "Summary 1",
    {"error": "connection"}, "response 1", "Response 3", "Response 2.",
]

SUMMARIZATION_ANSWERS = [
    "Summary 1", "Summary 2", "summary 2 does a better job", "SUMMARY 1", "Response 1", "Neither summary is good",
    "I pick Summary 1.", {"error": "status"}, "Summary 2", "summary\n1", "Summaries 1", "Summary 2 is better",
    "sUmMaRy 1", "Summary A", "Summary 1", "Summary 2", "Summary 1", "Summary 2", "Summary 1", "Summary 2",
]


def official_run(source, task, seed, samples, answers, max_comp):
    """Runs the official __main__ on `samples` with scripted answers; returns calls and results."""
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "samples.json")
    config = {"human_prefix": H, "assistant_prefix": A, "local_run_dir": "/runs/fixture_run", "exp_name": "fixture"}
    json.dump({"config": config, "samples": [{k: s[k] for k in ("prompt", "chosen", "policy")} for s in samples]},
              open(path, "w"))
    results_dir = os.path.join(tmp, "results")
    argv = ["compare.py", "-f", path, "-mc", str(max_comp), "-bk", "chosen", "-ck", "policy", "-r", results_dir,
            "-j", "gpt-4-0613", "-t", task, "-s", str(seed), "-st", "0"]
    old_argv = sys.argv
    sys.argv = argv
    ns = {"__name__": "__main__"}
    try:
        with redirect_stdout(io.StringIO()), stubbed_imports():
            code = compile(source, "compare.py", "exec")
            # The module creates its client at import; script it before the loop runs by wrapping OpenAI.
            made = []
            orig = sys.modules["openai"].OpenAI

            def factory(api_key=None):
                c = orig(api_key)
                c.script = answers
                made.append(c)
                return c
            sys.modules["openai"].OpenAI = factory
            try:
                exec(code, ns)
            finally:
                sys.modules["openai"].OpenAI = orig
    finally:
        sys.argv = old_argv
    client = made[0]
    results = json.loads(open(os.path.join(results_dir, "fixture_run.jsonl")).read())
    role = {"policy": "candidate", "chosen": "baseline", None: None}
    calls = []
    for k, kw in enumerate(client.calls):
        calls.append({"id": samples[k]["id"], "messages": kw["messages"], "model": kw["model"],
                      "temperature": kw["temperature"], "max_tokens": kw["max_tokens"], "seed": kw["seed"],
                      "order": [role[m] for m in kw["order"]], "answer": answers[k], "winner": role[kw["choice"]]})
    return {"task": task, "seed": seed, "max_comparisons": max_comp, "human_prefix": H, "assistant_prefix": A,
            "samples": samples, "calls": calls,
            "results": {"total": results["total"], "candidate_wins": results["candidate"]["wins"],
                        "baseline_wins": results["baseline"]["wins"],
                        "candidate_win_rate": results["candidate"]["win_rate"],
                        "baseline_win_rate": results["baseline"]["win_rate"],
                        "candidate_lengths": results["candidate"]["lengths"],
                        "baseline_lengths": results["baseline"]["lengths"],
                        "candidate_mean_length": results["candidate"]["mean_lengths"],
                        "baseline_mean_length": results["baseline"]["mean_lengths"]}}


# --------------------------------------------------------------------------------------------------
# prompts.json

def prompt_cases(ns):
    PromptTemplate, Summ = ns["PromptTemplate"], ns["SummarizationPromptTemplate"]
    samples = hh_rows([3, 17]) + EDGE_SAMPLES
    cases = []
    for task, cls in (("dialogue", PromptTemplate), ("summarization", Summ)):
        for labels, hp, ap, seed in (("12", H, A, 0), ("AB", "\n\nHuman: ", "\n\nAssistant: ", 5)):
            t = cls(["policy", "chosen"], labels, seed, verbose=False, human_prefix=hp, assistant_prefix=ap)
            comps = []
            for s in samples:
                prompt = s["prompt"] if hp == H else s["prompt"].replace(H, hp).replace(A, ap)
                msgs = t.format(prompt, s)
                comps.append({"prompt": prompt, "candidate": s["policy"], "baseline": s["chosen"],
                              "order": ["candidate" if m == "policy" else "baseline" for m in t.models],
                              "messages": msgs})
            cases.append({"task": task, "labels": labels, "human_prefix": hp, "assistant_prefix": ap, "seed": seed,
                          "comparisons": comps})

    # Seeded orders: the first model after each shuffle, over 300 comparisons (0 = candidate first).
    orders = []
    for seed in (0, 1, 2, 7, 42, 1234, 2**31 - 1, 2**32 - 1, 2**32, 2**40 + 5, 2**63 + 3, 2**64 - 1):
        t = PromptTemplate(["policy", "chosen"], "12", seed, verbose=False)
        firsts = []
        for _ in range(300):
            t.shuffle()
            firsts.append(0 if t.models[0] == "policy" else 1)
        orders.append({"seed": str(seed), "candidate_first": [f == 0 for f in firsts]})

    t = PromptTemplate(["policy", "chosen"], "12", 0, verbose=False)
    clean = [{"text": x, "cleaned": t.clean_response(x)} for x in
             ["Hello. World", "a!b?c", "none", "", "end.", "x.\n\n", "Dots... and", "\u00a1Hola! \u00bfqu\u00e9",
              "multi\nline. tail\nmore", "?", "trailing space. ", "\U0001F600. \U0001F600"]]

    histories = []
    for prompt in [H + "Hi" + A, H + "Hi" + A + "Hello" + H + "Why?" + A, "no marker", "no marker ", "",
                   "  " + H + "  padded  \t" + A + "  ", A, H + "x" + A + "\u2028", "\u0085x\u3000" + A]:
        hist = prompt[:prompt.rfind(A)].strip()
        histories.append({"prompt": prompt, "history": hist})

    parses = []
    for task, cls, answers in (("dialogue", PromptTemplate, DIALOGUE_ANSWERS),
                               ("summarization", Summ, SUMMARIZATION_ANSWERS)):
        for labels in ("12", "AB"):
            t = cls(["policy", "chosen"], labels, 0, verbose=False)
            for text in answers + ["response A", "Summary B", "RESPONSE b", "response B"]:
                if isinstance(text, dict):
                    continue
                for order in (["policy", "chosen"], ["chosen", "policy"]):
                    t.models = list(order)
                    try:
                        m = t.get_model_choice_from_response(fake_response(text))
                        result = None if m is None else ("candidate" if m == "policy" else "baseline")
                        outcome = "none" if m is None else "chosen"
                    except ValueError:
                        result, outcome = None, "value_error"
                    parses.append({"task": task, "labels": labels, "answer": text,
                                   "order": ["candidate" if m == "policy" else "baseline" for m in order],
                                   "outcome": outcome, "winner": result})
    return {"templates": cases, "orders": orders, "clean_response": clean, "history": histories, "parse": parses}


# --------------------------------------------------------------------------------------------------
# python_text.json

def python_text():
    spaces = [c for c in range(0x110000) if chr(c).isspace()]
    # strip() removes exactly the str.isspace() characters: check on each.
    assert all(("a" + chr(c) + "a").strip() != "a" and (chr(c) + "a" + chr(c)).strip() == "a" for c in spaces)
    equiv = {}
    for letter in sorted(set("response summary")):
        if letter == " ":
            continue
        pat = re.compile(re.escape(letter), re.IGNORECASE)
        equiv[letter] = [c for c in range(0x110000) if (c < 0xD800 or c > 0xDFFF) and pat.fullmatch(chr(c))]
    space_matches = [c for c in range(0x110000) if (c < 0xD800 or c > 0xDFFF) and re.fullmatch(" ", chr(c), re.I)]
    dot_rejects = [c for c in range(0x110000) if (c < 0xD800 or c > 0xDFFF) and not re.fullmatch(".", chr(c))]
    return {"isspace": spaces, "ignorecase": equiv, "space": space_matches, "dot_rejects": dot_rejects}


# --------------------------------------------------------------------------------------------------
# bootstrap.json: rpo's RNG (xoshiro256** seeded by SplitMix64, Swift's Lemire upper-bound draw) in Python

M64 = (1 << 64) - 1


class Xoshiro:
    def __init__(self, seed):
        s = seed & M64
        words = []
        for _ in range(4):
            s = (s + 0x9E3779B97F4A7C15) & M64
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            words.append(z ^ (z >> 31))
        self.s = words

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        # Swift's RandomNumberGenerator.next(upperBound:) (Lemire's nearly divisionless method).
        r = self.next()
        m = r * n
        low = m & M64
        if low < n:
            t = ((1 << 64) - n) % n
            while low < t:
                r = self.next()
                m = r * n
                low = m & M64
        return m >> 64


CODES = {"candidate": 0, "baseline": 1, "tie": 2, "unparsed": 3, "failed": 4}


def stats_of(counts, n):
    wins, losses, ties = counts[0], counts[1], counts[2]
    decided = wins + losses + ties
    rate = wins / n
    rate_decided = wins / decided if decided else float("nan")
    score = (wins + 0.5 * ties) / decided if decided else float("nan")
    return rate, rate_decided, score


def percentile_ci(values):
    v = np.array(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]


def bootstrap_case(name, outcomes, seed, resamples):
    n = len(outcomes)
    codes = np.array([CODES[o] for o in outcomes], dtype=np.int64)
    rng = Xoshiro(seed)
    exact = [[], [], []]
    for _ in range(resamples):
        idx = [rng.below(n) for _ in range(n)]
        counts = np.bincount(codes[idx], minlength=5)
        for k, s in enumerate(stats_of(counts, n)):
            exact[k].append(s)
    gen = np.random.default_rng(seed)
    idx = gen.integers(0, n, size=(resamples, n))
    indep = [[], [], []]
    for row in codes[idx]:
        counts = np.bincount(row, minlength=5)
        for k, s in enumerate(stats_of(counts, n)):
            indep[k].append(s)
    counts = np.bincount(codes, minlength=5)
    point = stats_of(counts, n)
    names = ["win_rate", "win_rate_decided", "score_decided"]
    return {"name": name, "seed": seed, "resamples": resamples, "outcomes": outcomes,
            "point": {k: (None if np.isnan(p) else p) for k, p in zip(names, point)},
            "exact": {k: percentile_ci(v) for k, v in zip(names, exact)},
            "numpy_rng": {k: percentile_ci(v) for k, v in zip(names, indep)}}


def bootstrap_cases():
    r = np.random.default_rng(2402)
    kinds = np.array(["candidate", "baseline", "tie", "unparsed", "failed"])
    main = list(kinds[r.choice(5, size=256, p=[0.44, 0.44, 0.04, 0.04, 0.04])])
    small = list(kinds[r.choice(5, size=9, p=[0.5, 0.2, 0.1, 0.1, 0.1])])
    return [bootstrap_case("n256", [str(x) for x in main], 0, 10000),
            bootstrap_case("n9", [str(x) for x in small], 7, 2000),
            bootstrap_case("all_failed", ["failed", "unparsed", "failed"], 0, 500),
            bootstrap_case("one", ["candidate"], 3, 100)]


# --------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare-py", help=f"path to compare.py at {COMMIT} (default: download it)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests/Fixtures/judging"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    source = load_official(args.compare_py)
    ns = module_from(source)
    # The module seeds Python's global random in PromptTemplate.__post_init__; nothing else draws from it.

    def dump(name, obj):
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write("\n")

    dump("prompts.json", prompt_cases(ns))
    dialogue_samples = hh_rows([0, 5, 11, 23, 42, 77, 101, 150, 222, 303, 404, 505, 606, 707, 808, 909]) + EDGE_SAMPLES
    summ_samples = hh_rows([1000, 1001, 1010, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000, 2100,
                            2200, 2300]) + EDGE_SAMPLES
    runs = [official_run(source, "dialogue", 0, dialogue_samples, DIALOGUE_ANSWERS, 18),
            official_run(source, "summarization", 3, summ_samples, SUMMARIZATION_ANSWERS, 20)]
    dump("official.json", {"compare_py": {"commit": COMMIT, "sha256": SHA256}, "runs": runs})
    dump("python_text.json", python_text())
    dump("bootstrap.json", {"cases": bootstrap_cases()})


if __name__ == "__main__":
    main()
