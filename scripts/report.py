#!/usr/bin/env python3
"""Results table and training plots of a pipeline run (pipelines/hh.mk `report`).

usage: report.py OUT VARIANT...

Reads, for each VARIANT, OUT/VARIANT/summary.json (rpo-judge --summary) and, when it was trained,
OUT/VARIANT/metrics.jsonl (rpo-train's per-step metrics). Writes
  OUT/results.md, OUT/results.csv   win rate against the dataset's chosen response with its bootstrap 95%
                                    interval, ties, failures, mean lengths, final training metrics;
  OUT/plots/{loss,margins,accuracies}.png  per-step curves of every trained variant (gnuplot, pngcairo or png).
Standard library only; gnuplot from Debian (gnuplot-nox) draws the plots.
"""
import csv, json, math, os, shutil, subprocess, sys


def load_json(path):
    with open(path) as f:
        return json.load(f)


def load_metrics(path):
    """Per-step records in step order; a resumed run repeats the steps after its last checkpoint, and the
    later record of a step (the one the resumed run kept) wins."""
    by_step = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    by_step[r["step"]] = r
    return [by_step[k] for k in sorted(by_step)]


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}"


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def mean(records, key):
    """Mean of `key` over the records that have it (the element-wise accuracy falls back to upstream's)."""
    vals = [r.get(key, r.get("rewards_train/accuracies") if key.endswith("_elementwise") else None) for r in records]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, variants = sys.argv[1], sys.argv[2:]
    rows = []
    curves = {}
    for v in variants:
        s = load_json(os.path.join(out, v, "summary.json"))
        m = load_metrics(os.path.join(out, v, "metrics.jsonl"))
        q = max(1, math.ceil(len(m) / 4))  # training metrics: means over the first and the last quarter of steps
        acc = "rewards_train/accuracies_elementwise"
        ci = s.get("win_rate_ci95") or [None, None]
        rows.append({
            "variant": v,
            "comparisons": s["attempts"],
            "win_rate_pct": pct(s.get("win_rate")),
            "ci95_low_pct": pct(ci[0]),
            "ci95_high_pct": pct(ci[1]),
            "wins": s["candidate"]["wins"],
            "losses": s["baseline"]["wins"],
            "ties": s.get("ties", 0),
            "unparsed": s.get("unparsed", 0),
            "failed": s.get("failed", 0),
            "policy_mean_chars": fmt(s["candidate"].get("mean_chars"), 1),
            "chosen_mean_chars": fmt(s["baseline"].get("mean_chars"), 1),
            "steps": len(m),
            "first_loss": fmt(mean(m[:q], "loss/train")),
            "last_loss": fmt(mean(m[-q:], "loss/train")),
            "first_margin": fmt(mean(m[:q], "rewards_train/margins")),
            "last_margin": fmt(mean(m[-q:], "rewards_train/margins")),
            "first_accuracy": fmt(mean(m[:q], acc)),
            "last_accuracy": fmt(mean(m[-q:], acc)),
            "judge": s.get("judge", ""),
            "judge_orders": "both, calibrated" if s.get("calibrated") else "both" if s.get("both_orders") else "seeded",
            "first_position_rate_pct": pct(s.get("first_position_rate")),
        })
        if m:
            curves[v] = m

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    lines = [
        "| variant | win rate % (95% CI) | wins / losses / ties | unparsed / failed | mean chars (policy / chosen) | steps | loss | margin | accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def span(k):
            return "n/a" if r["first_" + k] == "n/a" else f"{r['first_' + k]} → {r['last_' + k]}"
        lines.append(
            f"| {r['variant']} | {r['win_rate_pct']} ({r['ci95_low_pct']}-{r['ci95_high_pct']}) | "
            f"{r['wins']} / {r['losses']} / {r['ties']} | {r['unparsed']} / {r['failed']} | "
            f"{r['policy_mean_chars']} / {r['chosen_mean_chars']} | {r['steps']} | {span('loss')} | "
            f"{span('margin')} | {span('accuracy')} |")
    judge, orders = rows[0]["judge"], rows[0]["judge_orders"]
    firsts = ", ".join(f"{r['variant']} {r['first_position_rate_pct']}%" for r in rows)
    note = (f"\nWin rate = wins / comparisons against the dataset's chosen response (rpo-method.md §15.6: ties and "
            f"failures count against both sides); interval: bootstrap percentile over comparisons. Judge: {judge}, "
            f"orders: {orders}; presentations won by the text shown first: {firsts}. Loss, margin and accuracy "
            f"(rpo-train's loss/train, rewards_train/margins, rewards_train/accuracies_elementwise): means over the "
            f"first and the last quarter of the optimizer steps.\n")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n" + note)

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
        "loss": ("loss/train", "training loss"),
        "margins": ("rewards_train/margins", "reward margin (beta * (chosen - rejected) log-ratio)"),
        "accuracies": ("rewards_train/accuracies_elementwise", "reward accuracy (chosen > rejected)"),
    }
    terms = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True).stderr
    term = "pngcairo size 900,540" if "pngcairo" in terms else "png size 900,540"
    for name, (key, title) in keys.items():
        series = []
        for v, m in curves.items():
            data = os.path.join(pdir, f"{name}.{v}.dat")
            with open(data, "w") as f:
                for r in m:
                    val = r.get(key)
                    if val is None and key.endswith("_elementwise"):
                        val = r.get("rewards_train/accuracies")
                    if val is not None:
                        f.write(f"{r['step']} {val}\n")
            series.append(f"'{data}' using 1:2 with linespoints title '{v}'")
        script = (f"set terminal {term}\nset output '{os.path.join(pdir, name + '.png')}'\n"
                  f"set title '{title}'\nset xlabel 'optimizer step'\nset grid\nset key outside right\n"
                  f"plot {', '.join(series)}\n")
        subprocess.run([gnuplot], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
