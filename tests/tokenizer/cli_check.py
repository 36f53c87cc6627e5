#!/usr/bin/env python3
"""tests/tokenizer/cli_check.py: end-to-end check of `grpo train-tokenizer` and
`grpo tokenize` as real processes, against Hugging Face `tokenizers`.

Usage: cli_check.py GRPO_BINARY WORK_DIR
 1. train-tokenizer on arithmetic text (vocab 400, special tokens) twice: same bytes;
 2. HF loads the trained tokenizer.json and encodes like `grpo tokenize`;
 3. `grpo tokenize --tokenizer <qwen3 folder>` reproduces the golden ids;
 4. bad input lines: one output line each ({"error"}), stderr names the line, exit 1;
 5. --decode gives the text back.
"""
import json
import os
import random
import subprocess
import sys

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.path.join(ROOT, "tests", "fixtures", "tokenizers")  # real tokenizers + golden rows


def run(args, stdin=""):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, encoding="utf-8")


def check(cond, what):
    if not cond:
        print("cli_check: FAILED:", what)
        sys.exit(1)


def main():
    grpo, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = random.Random(0)
    lines = []
    for _ in range(2000):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        lines.append(f"Question: what is {a} + {b}? Answer: <think>{a} + {b} = {a + b}"
                     f"</think> {a + b}<|endoftext|>")
    corpus = os.path.join(work, "arith.txt")
    open(corpus, "w", encoding="utf-8").write("\n".join(lines) + "\n")

    outs = []
    for k in (1, 2):
        out = os.path.join(work, f"tok{k}")
        r = run([grpo, "train-tokenizer", "--vocab-size", "400", "--output", out,
                 "--special-tokens", "<|endoftext|>,<think>,</think>", corpus])
        check(r.returncode == 0, f"train-tokenizer exit {r.returncode}: {r.stderr}")
        outs.append(open(os.path.join(out, "tokenizer.json"), "rb").read())
    check(outs[0] == outs[1], "train-tokenizer is not deterministic")
    cfg = json.load(open(os.path.join(work, "tok1", "tokenizer_config.json")))
    check(cfg["eos_token"] == "<|endoftext|>", f"eos_token {cfg['eos_token']}")

    hf = Tokenizer.from_file(os.path.join(work, "tok1", "tokenizer.json"))
    check(hf.get_vocab_size() == 400, f"HF vocab size {hf.get_vocab_size()}")
    texts = lines[:50] + ["Ünïcödé 数学 😀", "  two  spaces ", "<think>x</think>", ""]
    r = run([grpo, "tokenize", "--tokenizer", os.path.join(work, "tok1")],
            "".join(json.dumps({"text": t}) + "\n" for t in texts))
    check(r.returncode == 0, f"tokenize exit {r.returncode}: {r.stderr}")
    got = [json.loads(l)["ids"] for l in r.stdout.splitlines()]
    want = [hf.encode(t, add_special_tokens=False).ids for t in texts]
    check(got == want, "trained tokenizer: grpo and HF ids differ")

    golden = [json.loads(l) for l in open(os.path.join(REAL, "golden", "qwen3.jsonl"),
                                         encoding="utf-8") if l.strip()]
    r = run([grpo, "tokenize", "--tokenizer", os.path.join(REAL, "qwen3")],
            "".join(json.dumps({"text": g["text"]}) + "\n" for g in golden))
    check(r.returncode == 0, f"tokenize qwen3 exit {r.returncode}: {r.stderr[:500]}")
    got = [json.loads(l)["ids"] for l in r.stdout.splitlines()]
    check(got == [g["ids"] for g in golden], "qwen3 golden ids differ through the CLI")

    r = run([grpo, "tokenize", "--tokenizer", os.path.join(work, "tok1")],
            'not json\n{"txt": 1}\n{"text": "1 + 1"}\n')
    out = r.stdout.splitlines()
    check(r.returncode == 1, f"bad lines: exit {r.returncode}")
    check(len(out) == 3 and "error" in json.loads(out[0]) and "error" in json.loads(out[1])
          and "ids" in json.loads(out[2]), f"bad lines: stdout {r.stdout!r}")
    check("line 1" in r.stderr and "line 2" in r.stderr and "2 of 3" in r.stderr,
          f"bad lines: stderr {r.stderr!r}")

    ids = json.loads(out[2])["ids"]
    r = run([grpo, "tokenize", "--decode", "--tokenizer", os.path.join(work, "tok1")],
            json.dumps({"ids": ids}) + "\n")
    check(r.returncode == 0 and json.loads(r.stdout)["text"] == "1 + 1", f"decode: {r.stdout!r}")
    r = run([grpo, "tokenize", "--tokenizer", os.path.join(work, "missing")], "")
    check(r.returncode != 0 and "missing" in r.stderr, f"missing tokenizer: {r.stderr!r}")
    print("cli_check: ok")


if __name__ == "__main__":
    main()
