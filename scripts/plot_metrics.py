#!/usr/bin/env python3
"""scripts/plot_metrics.py: plots a run's metrics.jsonl (reward, eval accuracy and mean
completion length per RL step) into a PNG with matplotlib.

Usage: plot_metrics.py METRICS.jsonl OUT.png [--baseline EVAL.json] [--final EVAL.json]
Keys read (the first present of each list): reward; eval/accuracy or accuracy;
completions/mean_length or completion_length. --baseline/--final are `grpo eval --output`
files drawn as horizontal reference lines on the accuracy panel.
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [
    ("reward", ["reward"]),
    ("accuracy", ["eval/accuracy", "rewards/accuracy/mean", "accuracy"]),
    ("completion length (tokens)", ["completions/mean_length", "completion_length", "eval/mean_completion_length"]),
]


def main():
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
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if key in r and "step" in r]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="." if len(pts) < 30 else None, label=key)
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
