#!/usr/bin/env python3
"""tests/tokenizer/hf_check.py: checks a tokenizer.json against Hugging Face `tokenizers`.

Usage: hf_check.py TOKENIZER_JSON CASES_JSONL
Each case line is {"text": str, "ids": [int], "decoded": str} as produced by grpo; HF must
load the file, encode `text` (add_special_tokens=False) to exactly `ids`, and decode `ids`
to `decoded`. Prints the first mismatches and exits 1 if any case differs.
"""
import json
import sys

from tokenizers import Tokenizer


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    bad = 0
    n = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            n += 1
            case = json.loads(line)
            ids = tok.encode(case["text"], add_special_tokens=False).ids
            dec = tok.decode(case["ids"], skip_special_tokens=False)
            if ids != case["ids"] or dec != case["decoded"]:
                bad += 1
                if bad <= 5:
                    print(f"case {i}: text {case['text']!r}\n  hf   {ids} {dec!r}\n"
                          f"  grpo {case['ids']} {case['decoded']!r}")
    print(f"hf_check: {n - bad}/{n} cases identical (vocab {tok.get_vocab_size()})")
    sys.exit(1 if bad or n == 0 else 0)


if __name__ == "__main__":
    main()
