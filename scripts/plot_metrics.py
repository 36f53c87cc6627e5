#!/usr/bin/env python3
"""scripts/plot_metrics.py: plots a run's metrics.jsonl (reward, eval accuracy and mean
completion length per RL step) into a PNG with matplotlib.

Usage: plot_metrics.py METRICS.jsonl OUT.png [--baseline EVAL.json] [--final EVAL.json]
Keys drawn (each one present): reward; eval/accuracy (held-out, greedy),
accuracy (the sampled training answers); completions/mean_length,
completion_length, eval/mean_completion_length. Per-step series of more than 20 points also
get a 5-step moving average (the prompts of a step vary in difficulty). --baseline/--final
are `grpo eval --output` files drawn as horizontal reference lines on the accuracy panel.
A resumed run appends to metrics.jsonl and repeats the steps after its checkpoint: when
the step goes back, the earlier lines from that step on are dropped.
"""
import argparse
import json
import sys

PANELS = [
    ("reward", ["reward"]),
    ("accuracy", ["eval/accuracy", "accuracy"]),
    ("completion length (tokens)", ["completions/mean_length", "completion_length", "eval/mean_completion_length"]),
]


def latest_run_view(rows):
    """The rows of the last pass over each step: a step lower than the one before marks a
    resume, whose lines replace the earlier ones from that step on."""
    out = []
    for r in rows:
        if "step" not in r:
            continue
        if out and r["step"] < out[-1]["step"]:
            out = [o for o in out if o["step"] < r["step"]]
        out.append(r)
    return out


def main():
    import matplotlib  # here, so latest_run_view can be tested without matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("out")
    ap.add_argument("--baseline")
    ap.add_argument("--final")
    a = ap.parse_args()
    rows = []
    with open(a.metrics) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"plot_metrics: {a.metrics}:{i}: {e}")
    rows = latest_run_view(rows)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if key in r and "step" in r]
            if pts:
                xs, ys = zip(*pts)
                if len(pts) > 20:
                    line, = ax.plot(xs, ys, alpha=0.3, label=key)
                    avg = [sum(ys[max(0, i - 4):i + 1]) / len(ys[max(0, i - 4):i + 1]) for i in range(len(ys))]
                    ax.plot(xs, avg, color=line.get_color(), label=f"{key} (5-step mean)")
                else:
                    ax.plot(xs, ys, marker=".", label=key)
        if title == "accuracy":
            for path, name, style in ((a.baseline, "SFT (eval set)", "--"), (a.final, "RL (eval set)", ":")):
                if path:
                    acc = json.load(open(path))["accuracy"]
                    ax.axhline(acc, linestyle=style, color="gray", label=f"{name} {100*acc:.1f}%")
        ax.set_title(title)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    print(f"plot_metrics: wrote {a.out}")


if __name__ == "__main__":
    main()
