"""Generates tests/rewards/data/*.json, the golden values the rewards tests compare with.

Independent references:
  - length / repetition: TRL's own reward classes (trl.rewards), fed with the same units
    our rewards use (one id per code point for the cosine length; one id per lower-cased
    whitespace-separated word for the n-gram penalty). TRL's accuracy check inside the
    cosine reward is replaced by the known correctness of each case.
  - accuracy numbers: Python's fractions.Fraction on numbers written in the formats the
    accuracy reward accepts (thousands separators, decimals, a/b, \\frac, signs, wrappers).
  - countdown: Python's evaluation of generated expressions (they are ours, so eval is
    safe here) — the same way TinyZero evaluates a validated equation.
Run: /opt/grpo/venv/bin/python tests/rewards/make_goldens.py   (fixed seed: output is stable)
"""
import json
import math
import pathlib
import random
from fractions import Fraction

import trl.rewards.accuracy_rewards as acc
from trl.rewards import get_cosine_scaled_reward, get_repetition_penalty_reward

OUT = pathlib.Path(__file__).parent / "data"
rng = random.Random(1234)


def length_repetition():
    texts = [
        "",
        "hello",
        "the cat sat on the mat",
        "the the the the the the",
        "A b c a B C a b c",
        "one two three one two three one two three four",
        "   spaced\tout\n\nwords  spaced out words   ",
        "déjà vu déjà vu déjà vu",
        " ".join(rng.choice(["x", "y", "z", "w"]) for _ in range(200)),
        "word " * 700,
        "ünïcödé " * 300,
    ]
    cases = []
    for text in texts:
        words = text.lower().split()
        vocab = {}
        ids = [vocab.setdefault(w, len(vocab)) for w in words]
        for n, pen in [(1, -1.0), (2, -0.5), (3, -1.0), (4, -2.0)]:
            got = get_repetition_penalty_reward(ngram_size=n, max_penalty=pen)([ids])[0]
            cases.append({"kind": "repetition", "text": text, "ngram_size": n, "max_penalty": pen,
                          "expected": got})
        for correct in (True, False):
            for max_len, params in [(100, {}), (1000, {}),
                                    (50, {"min_value_wrong": -2.0, "max_value_wrong": -0.1,
                                          "min_value_correct": 0.2, "max_value_correct": 3.0})]:
                acc.accuracy_reward = lambda completions, solution, **kw: [correct] * len(completions)
                fn = get_cosine_scaled_reward(max_len=max_len, **params)
                got = fn([[{"content": text}]], ["1"], [[1] * len(text)])[0]
                cases.append({"kind": "length", "text": text, "correct": correct, "max_len": max_len,
                              "params": params, "length": len(text), "expected": got})
    return cases


def fmt_number(q: Fraction) -> list[str]:
    """Spellings of q the accuracy grammar accepts."""
    out = []
    sign = "-" if q < 0 else ""
    a = abs(q)
    out.append(f"{sign}\\frac{{{a.numerator}}}{{{a.denominator}}}")
    out.append(f"{sign}{a.numerator}/{a.denominator}")
    out.append(f"\\dfrac{{{sign}{a.numerator}}}{{{a.denominator}}}")
    if a.denominator == 1:
        out.append(f"{sign}{a.numerator:,}")
        out.append(f"{sign}{a.numerator}.0")
        out.append(f"\\boxed{{{sign}{a.numerator}}}")
        out.append(f"${sign}{a.numerator}$.")
    d = a.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:  # finite decimal
        s = f"{a.numerator / a.denominator:.12f}".rstrip("0")
        if Fraction(s) == a:
            out.append(sign + s)
            out.append(f" \\tfrac{{{sign}{s}}}{{1}} ")
    return out


def accuracy_numbers():
    values = [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-3, 4),
              Fraction(1234567), Fraction(10 ** 20 + 7), Fraction(22, 7), Fraction(-5, 8),
              Fraction(1, 3), Fraction(2, 3), Fraction(123, 1000), Fraction(99999, 100)]
    for _ in range(25):
        values.append(Fraction(rng.randint(-10 ** 6, 10 ** 6), rng.choice([1, 2, 3, 4, 5, 8, 10, 16, 25, 7, 125])))
    cases = []
    for v in values:
        spellings = fmt_number(v)
        for s in spellings:
            # Equal to another spelling of itself, and compared with a near miss.
            other = rng.choice(spellings)
            cases.append({"answer": s, "truth": other, "equal": True})
            near = v + Fraction(1, rng.choice([3, 10, 1000, 10 ** 9]))
            cases.append({"answer": s, "truth": rng.choice(fmt_number(near)), "equal": near == v})
    return cases


def countdown():
    cases = []
    for _ in range(300):
        k = rng.randint(2, 5)
        nums = [rng.randint(1, 99) for _ in range(k)]
        order = nums[:]
        rng.shuffle(order)
        expr = str(order[0])
        for x in order[1:]:
            op = rng.choice("+-*/")
            if rng.random() < 0.5:
                expr = f"({expr}) {op} {x}"
            else:
                expr = f"{x} {op} ({expr})"
        value = eval(expr)  # our own generated arithmetic, not model output
        target = round(value) if rng.random() < 0.5 else value
        cases.append({"nums": nums, "target": target, "expression": expr, "value": value,
                      "correct": abs(value - target) < 1e-5})
    return cases


def main():
    OUT.mkdir(exist_ok=True)
    (OUT / "length_repetition_golden.json").write_text(json.dumps(length_repetition(), indent=0) + "\n")
    (OUT / "accuracy_numbers_golden.json").write_text(json.dumps(accuracy_numbers(), indent=0) + "\n")
    (OUT / "countdown_golden.json").write_text(json.dumps(countdown(), indent=0) + "\n")


if __name__ == "__main__":
    main()
