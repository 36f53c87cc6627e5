#!/usr/bin/env python3
"""tests/e2e/code_toy_data.py OUT_DIR [N] [SEED]: the toy task of the code-reward training
run (configs/r1_zero_code_toy.yaml): "write a Python program that prints A+B", A and B in
1..5. Deliberately easy: a tiny model learns the answer's shape in a short SFT but not yet
to copy the digits, so its programs print one of 9 sums and some are right by chance:
every step has reward signal, and GRPO can start from there.

Writes, deterministically for a seed:
  train.jsonl  GRPO rows {"prompt", "answer"}: `answer` is the exact stdout a correct
               program prints; the `code` reward (output_key: answer) runs the completion's
               program in the sandbox and compares.
  sft.jsonl    cold-start rows {"prompt", "completion"} with a correct R1-Zero-style answer
               (<think>..</think><answer>```python ...```</answer>), so a tiny model learns
               the shape in a few dozen steps (as the demo's SFT stage does for arithmetic).
  corpus.txt   prompt + completion text for training a small tokenizer.
"""
import json
import os
import random
import sys


def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 5), rng.randint(1, 5)
        op = "+"
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        prompt = f"Write a Python program that prints {a}{op}{b}."
        completion = (f"<think>print it</think> <answer>\n```python\nprint({a}{op}{b})\n```\n"
                      f"</answer>")
        out.append((prompt, str(value), completion))
    return out


def main():
    out_dir = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(out_dir, exist_ok=True)
    data = rows(n, seed)
    with open(os.path.join(out_dir, "train.jsonl"), "w") as f:
        for prompt, answer, _ in data:
            f.write(json.dumps({"prompt": prompt, "answer": answer}) + "\n")
    with open(os.path.join(out_dir, "sft.jsonl"), "w") as f:
        for prompt, _, completion in data:
            f.write(json.dumps({"prompt": prompt, "completion": completion}) + "\n")
    with open(os.path.join(out_dir, "corpus.txt"), "w") as f:
        for prompt, _, completion in data:
            f.write(f"User: {prompt} Assistant:{completion}\n")


if __name__ == "__main__":
    main()
