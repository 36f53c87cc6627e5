#!/usr/bin/env python3
"""tests/rewards/math_verify_verdicts.py: turns the hand-labelled case list
(tests/rewards/data/math_equiv_cases.txt) into tests/rewards/data/math_equiv_cases.jsonl with
math-verify's verdict beside each hand label, and prints math-verify's agreement.

math-verify (Hugging Face, pip install math-verify) is run the way open-r1/TRL's accuracy
reward runs it: verify(parse(gold), parse(prediction)) with its default extraction and
comparison settings; an answer the model marked (<answer>/\\boxed{}) is given to it as
\\boxed{...}, an unanchored completion as the raw text.

Usage: /opt/grpo/venv/bin/python tests/rewards/math_verify_verdicts.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TXT = os.path.join(HERE, "data", "math_equiv_cases.txt")
OUT = os.path.join(HERE, "data", "math_equiv_cases.jsonl")


def read_cases(path):
    cases, kind = [], None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("## "):
                kind = line[3:].strip()
                continue
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split(" ||| ")
            if len(parts) != 3 or parts[2] not in ("Y", "N"):
                sys.exit(f"{path}:{lineno}: expected 'PRED ||| GOLD ||| Y|N', got {line!r}")
            cases.append({"id": len(cases), "kind": kind, "pred": parts[0], "gold": parts[1],
                          "label": parts[2] == "Y",
                          "anchored": not kind.startswith("unanchored")})
    return cases


def math_verify_verdict(case):
    from math_verify import parse, verify
    gold = parse("\\boxed{" + case["gold"] + "}")
    pred_text = "\\boxed{" + case["pred"] + "}" if case["anchored"] else case["pred"]
    try:
        return bool(verify(gold, parse(pred_text)))
    except Exception:  # math-verify raising counts as "not equal"
        return False


def main():
    cases = read_cases(TXT)
    for c in cases:
        c["math_verify"] = math_verify_verdict(c)
    with open(OUT, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    agree = sum(c["math_verify"] == c["label"] for c in cases)
    fp = sum(c["math_verify"] and not c["label"] for c in cases)
    fn = sum(not c["math_verify"] and c["label"] for c in cases)
    print(f"{len(cases)} cases; math-verify agrees with the hand labels on {agree} "
          f"({100.0 * agree / len(cases):.1f}%), false positives {fp}, false negatives {fn}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
