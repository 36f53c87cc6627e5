#!/usr/bin/env python3
"""bench/math_equiv_bench.py: cases per second of grpo's math equivalence check against
math-verify's (Hugging Face), on the same hand-labelled cases, in the same run; plus both
agreements with the hand labels. Runs build/bench/math_equiv_bench for our side and
math-verify in this process (CPU seconds of one thread for both).

Usage: /opt/grpo/venv/bin/python bench/math_equiv_bench.py [--bin build/bench/math_equiv_bench]
       [--repeats 20]
"""
import argparse
import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(ROOT, "tests", "rewards", "data", "math_equiv_cases.jsonl")


def math_verify_rate(cases, repeats):
    from math_verify import parse, verify

    def one(c):
        gold = parse("\\boxed{" + c["gold"] + "}")
        pred = parse("\\boxed{" + c["pred"] + "}" if c["anchored"] else c["pred"])
        try:
            return bool(verify(gold, pred))
        except Exception:
            return False

    for c in cases[:20]:  # warm-up: imports and sympy caches
        one(c)
    t0 = time.process_time()
    for _ in range(repeats):
        for c in cases:
            one(c)
    return len(cases) * repeats / (time.process_time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "math_equiv_bench"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ours = json.loads(subprocess.check_output([args.bin, CASES, str(20 * args.repeats)]))
    with open(CASES) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    mv = math_verify_rate(cases, args.repeats)
    print(json.dumps({"cases": len(cases), "grpo_cases_per_s": round(ours["cases_per_s"]),
                      "math_verify_cases_per_s": round(mv, 1),
                      "speedup": round(ours["cases_per_s"] / mv, 1),
                      "grpo_agree": ours["agree"], "grpo_false_positives": ours["false_positives"],
                      "math_verify_agree": ours["math_verify_agree"],
                      "math_verify_false_positives": ours["math_verify_false_positives"]}))


if __name__ == "__main__":
    main()
