#!/usr/bin/env python3
"""Results tables and plots of a pipeline run (pipelines/hh.mk `results`).

usage: report.py OUT VARIANT...

Reads, for each VARIANT (`start` is the untrained starting policy):
  OUT/VARIANT/heldout.json    rpo-train eval --summary: held-out preference accuracy, margin, log-prob changes
                              on the test pairs, each with its percentile-bootstrap 95% interval
  OUT/VARIANT/vs-start.json   rpo-train eval --against start: paired differences from the starting policy
  OUT/VARIANT/vs-dpo.json     the same against dpo (when dpo was trained)
  OUT/VARIANT/summary.json    rpo-judge --summary: win rate against the dataset's chosen response
  OUT/VARIANT/metrics.jsonl   rpo-train's per-step metrics and its evaluations on the validation pairs
and OUT/judge/validation.json (rpo-judge --validate: the judge's agreement with the human labels). Writes
  OUT/results.md, OUT/results.csv   the tables
  OUT/plots/{loss,margins,accuracies,logps}.png  training curves (lines) and validation curves (points)
Standard library only; gnuplot from Debian (gnuplot-nox) draws the plots.
"""
import csv, json, math, os, shutil, subprocess, sys


def load_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_metrics(path):
    """(train, eval) records in step order. A resumed run repeats the steps after its last checkpoint (and may
    repeat the evaluation at that checkpoint): the later record of a step wins."""
    train, ev = {}, {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    (ev if r.get("mode") == "eval" else train)[r["step"]] = r
    return [train[k] for k in sorted(train)], [ev[k] for k in sorted(ev)]


def fmt(x, digits=3, scale=1.0, sign=False):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x * scale:{'+' if sign else ''}.{digits}f}"


def est(e, digits=3, scale=1.0, sign=False):
    """'mean [lower, upper]' of an rpo-train eval estimate."""
    if not e:
        return "n/a"
    return f"{fmt(e['mean'], digits, scale, sign)} [{fmt(e['lower'], digits, scale, sign)}, {fmt(e['upper'], digits, scale, sign)}]"


def verdict(e, what="0"):
    """Whether an interval excludes zero."""
    if not e:
        return ""
    if e["lower"] > 0:
        return "higher"
    if e["upper"] < 0:
        return "lower"
    return f"no detectable difference"


def mean(records, key):
    vals = [r.get(key) for r in records if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, variants = sys.argv[1], sys.argv[2:]
    judge = load_json(os.path.join(out, "judge", "validation.json")) or {}
    sanity = (load_json(os.path.join(out, "judge", "sanity.json")) or {})
    jv = judge.get("validation") or {}
    informative = jv.get("verdict") == "informative"
    rows, curves = [], {}
    for v in variants:
        h = load_json(os.path.join(out, v, "heldout.json")) or {}
        vs = load_json(os.path.join(out, v, "vs-start.json")) or {}
        vd = load_json(os.path.join(out, v, "vs-dpo.json")) or {}
        s = load_json(os.path.join(out, v, "summary.json")) or {}
        train, ev = load_metrics(os.path.join(out, v, "metrics.jsonl"))
        q = max(1, math.ceil(len(train) / 4))  # training metrics: means over the first and the last quarter of steps
        ci = s.get("win_rate_ci95") or [None, None]
        rows.append({
            "variant": v,
            "heldout_pairs": h.get("pairs"),
            "accuracy_pct": fmt((h.get("accuracy") or {}).get("mean"), 1, 100),
            "accuracy_ci95_pct": est(h.get("accuracy"), 1, 100),
            "accuracy_vs_start_points": est(vs.get("accuracy_difference"), 1, 100, True),
            "accuracy_vs_dpo_points": est(vd.get("accuracy_difference"), 1, 100, True),
            "margin": est(h.get("margin"), 4),
            "margin_vs_start": est(vs.get("margin_difference"), 4, 1, True),
            "margin_vs_dpo": est(vd.get("margin_difference"), 4, 1, True),
            "chosen_logp_change": est(h.get("chosen_logp_change"), 2, 1, True),
            "rejected_logp_change": est(h.get("rejected_logp_change"), 2, 1, True),
            "accuracy_vs_start_verdict": verdict(vs.get("accuracy_difference")),
            "margin_vs_start_verdict": verdict(vs.get("margin_difference")),
            "accuracy_vs_dpo_verdict": verdict(vd.get("accuracy_difference")),
            "margin_vs_dpo_verdict": verdict(vd.get("margin_difference")),
            "comparisons": s.get("attempts"),
            "win_rate_pct": fmt(s.get("win_rate"), 1, 100),
            "win_rate_ci95_pct": f"[{fmt(ci[0], 1, 100)}, {fmt(ci[1], 1, 100)}]",
            "wins": (s.get("candidate") or {}).get("wins"),
            "losses": (s.get("baseline") or {}).get("wins"),
            "ties": s.get("ties", 0),
            "failed": s.get("failed", 0) + s.get("unparsed", 0),
            "policy_mean_chars": fmt((s.get("candidate") or {}).get("mean_chars"), 1),
            "chosen_mean_chars": fmt((s.get("baseline") or {}).get("mean_chars"), 1),
            "steps": len(train),
            "first_loss": fmt(mean(train[:q], "loss/train")) if train else "n/a",
            "last_loss": fmt(mean(train[-q:], "loss/train")) if train else "n/a",
            "first_train_accuracy": fmt(mean(train[:q], "rewards_train/accuracies_elementwise")) if train else "n/a",
            "last_train_accuracy": fmt(mean(train[-q:], "rewards_train/accuracies_elementwise")) if train else "n/a",
            "first_eval_loss": fmt(ev[0].get("loss/eval")) if ev else "n/a",
            "last_eval_loss": fmt(ev[-1].get("loss/eval")) if ev else "n/a",
            "first_eval_accuracy": fmt(ev[0].get("rewards_eval/accuracies_elementwise")) if ev else "n/a",
            "last_eval_accuracy": fmt(ev[-1].get("rewards_eval/accuracies_elementwise")) if ev else "n/a",
            "last_eval_chosen_logp": fmt(ev[-1].get("logps_eval/chosen"), 2) if ev else "n/a",
            "first_eval_chosen_logp": fmt(ev[0].get("logps_eval/chosen"), 2) if ev else "n/a",
        })
        if train or ev:
            curves[v] = (train, ev)

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    n = rows[0]["heldout_pairs"]
    has_dpo = any(r["accuracy_vs_dpo_points"] != "n/a" for r in rows)
    L = [f"### Held-out preference metrics ({n} test pairs)", "",
         "| variant | accuracy % [95% CI] | vs start, points | " + ("vs dpo, points | " if has_dpo else "")
         + "mean margin | vs start | " + ("vs dpo | " if has_dpo else "") + "chosen log-prob change | rejected log-prob change |",
         "|---|---|---|" + ("---|" if has_dpo else "") + "---|---|" + ("---|" if has_dpo else "") + "---|---|"]
    for r in rows:
        L.append(f"| {r['variant']} | {r['accuracy_ci95_pct']} | {r['accuracy_vs_start_points']} | "
                 + (f"{r['accuracy_vs_dpo_points']} | " if has_dpo else "")
                 + f"{r['margin']} | {r['margin_vs_start']} | " + (f"{r['margin_vs_dpo']} | " if has_dpo else "")
                 + f"{r['chosen_logp_change']} | {r['rejected_logp_change']} |")
    L += ["", "Accuracy: the share of pairs whose implicit reward beta * (log pi - log pi_ref) is larger for the chosen "
          "response (ties count half, so `start`, the reference itself, is 50%); margin: the mean reward difference; "
          "log-prob changes: log pi - log pi_ref of each response, summed over its tokens. Intervals: percentile "
          "bootstrap over pairs; differences are paired (the same resampled pairs for both models)."]
    findings = []
    for r in rows:
        if r["variant"] == "start":
            continue
        findings.append(f"- {r['variant']}: held-out accuracy vs start: {r['accuracy_vs_start_verdict'] or 'n/a'}; "
                        f"margin vs start: {r['margin_vs_start_verdict'] or 'n/a'}"
                        + (f"; vs dpo: accuracy {r['accuracy_vs_dpo_verdict']}, margin {r['margin_vs_dpo_verdict']}"
                           if r["accuracy_vs_dpo_verdict"] else ""))
    if findings:
        L += ["", "At the 95% level (an interval that excludes 0):", ""] + findings

    agreement = jv.get("agreement")
    aci = jv.get("agreement_ci95") or [None, None]
    L += ["", f"### Judged win rate against the dataset's chosen response ({rows[0]['comparisons']} test prompts)", ""]
    L.append(f"Judge: {judge.get('judge', 'n/a')}; validated on {judge.get('attempts', 'n/a')} test pairs (chosen vs "
             f"rejected): agrees with the human label on {fmt(agreement, 1, 100)}% [{fmt(aci[0], 1, 100)}, "
             f"{fmt(aci[1], 1, 100)}]: **{jv.get('verdict', 'not validated')}**."
             + ("" if informative else " Its win rates below say nothing about quality and are not the result."))
    if sanity:
        L.append("")
        L.append(f"Sanity check (data/judge-sanity: a correct one-line answer against \"zxq vrr blorp\"): the judge prefers the "
                 f"correct answer in {sanity['candidate']['wins']} of {sanity['attempts']} pairs"
                 + ("." if sanity['candidate']['wins'] == sanity['attempts'] else
                    ": it rewards something other than quality (what the training labels reward), and a degenerate "
                    "policy could fool it."))
    L += ["", "| variant | win rate % [95% CI] | wins / losses / ties | failed | mean chars (policy / chosen) |",
          "|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r['variant']} | {r['win_rate_pct']} {r['win_rate_ci95_pct']} | {r['wins']} / {r['losses']} / "
                 f"{r['ties']} | {r['failed']} | {r['policy_mean_chars']} / {r['chosen_mean_chars']} |")
    L += ["", "Win rate = wins / comparisons (ties and failures count against both sides, as the official compare.py); "
          "interval: percentile bootstrap over comparisons."]

    trained = [r for r in rows if r["steps"]]
    if trained:
        L += ["", "### Training (first quarter -> last quarter of the steps) and validation (first -> last evaluation)", "",
              "| variant | steps | train loss | train accuracy | validation loss | validation accuracy | validation chosen log-prob |",
              "|---|---|---|---|---|---|---|"]
        for r in trained:
            L.append(f"| {r['variant']} | {r['steps']} | {r['first_loss']} -> {r['last_loss']} | "
                     f"{r['first_train_accuracy']} -> {r['last_train_accuracy']} | {r['first_eval_loss']} -> "
                     f"{r['last_eval_loss']} | {r['first_eval_accuracy']} -> {r['last_eval_accuracy']} | "
                     f"{r['first_eval_chosen_logp']} -> {r['last_eval_chosen_logp']} |")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    if curves:
        plot(out, curves)


def plot(out, curves):
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        print("report.py: warning: gnuplot not found; no plots (make setup installs gnuplot-nox)", file=sys.stderr)
        return
    pdir = os.path.join(out, "plots")
    os.makedirs(pdir, exist_ok=True)
    keys = {
        "loss": (["loss"], "loss (lines: training steps; points: validation)"),
        "margins": (["rewards", "margins"], "reward margin beta * (chosen - rejected log-ratio)"),
        "accuracies": (["rewards", "accuracies_elementwise"], "reward accuracy (chosen > rejected)"),
    }
    terms = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True).stderr
    term = "pngcairo size 900,540" if "pngcairo" in terms else "png size 900,540"

    def series_of(name, v, mode, recs, key):
        data = os.path.join(pdir, f"{name}.{v}.{mode}.dat")
        with open(data, "w") as f:
            for r in recs:
                if r.get(key) is not None:
                    f.write(f"{r['step']} {r[key]}\n")
        style = "lines lw 2" if mode == "train" else "linespoints pt 7 ps 1.2 dt 2"
        return f"'{data}' using 1:2 with {style} title '{v} {'train' if mode == 'train' else 'validation'}'"

    def draw(name, title, series):
        script = (f"set terminal {term}\nset output '{os.path.join(pdir, name + '.png')}'\n"
                  f"set title '{title}'\nset xlabel 'optimizer step'\nset grid\nset key outside right\n"
                  f"plot {', '.join(series)}\n")
        subprocess.run([gnuplot], input=script, text=True, check=True)

    for name, (parts, title) in keys.items():
        series = []
        for v, (train, ev) in curves.items():
            for mode, recs in (("train", train), ("eval", ev)):
                key = f"{parts[0]}/{mode}" if len(parts) == 1 else f"{parts[0]}_{mode}/{parts[1]}"
                if recs:
                    series.append(series_of(name, v, mode, recs, key))
        draw(name, title, series)
    series = []
    for v, (train, ev) in curves.items():
        for mode, recs in (("train", train), ("eval", ev)):
            for side in ("chosen", "rejected"):
                if recs:
                    series.append(series_of(f"logps-{side}", v, mode, recs, f"logps_{mode}/{side}")
                                  .replace(f"title '{v} ", f"title '{v} {side} "))
    draw("logps", "policy log-prob of the chosen and rejected responses (a falling chosen log-prob: trl#800)", series)


if __name__ == "__main__":
    main()
