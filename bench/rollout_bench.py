#!/usr/bin/env python3
"""Runs bench/rollout_bench (grpo's rollout engine) and transformers generate() on the same
checkpoint and settings in one run, and prints decode tokens/s and the ratio grpo/HF.

Usage: /opt/grpo/venv/bin/python bench/rollout_bench.py [--bin build/bench/rollout_bench]
          [--threads 4] [--prompts 8] [--group 8] [--prompt-len 32] [--max-new 64] [--iters 2]
          [--batch 64] [--end-tokens 0]
The grpo binary writes the small DeepSeek-V3-style model of rollout_bench.cpp (MLA, MoE 16
experts top-4, 4 layers, hidden 256, vocab 8192, fp32); transformers loads that directory.
Both sample G answers per prompt (temperature 1, no top-k/top-p, exactly max_new tokens
each: no EOS stop); HF uses num_return_sequences=G. Tokens/s = generated tokens / wall
time including prefill; best of --iters.

RL-shaped mode, --end-tokens K: ids 2..K+1 all end a sequence on both sides (HF:
eos_token_id=[...], no min_new_tokens), so lengths are long-tailed (geometric, mean about
V/K, capped at --max-new) as RL answers are. --batch caps the sequences decoded at once on
both sides: grpo's engine retires finished answers and admits waiting ones (continuous
batching); generate() is called on --batch/G prompts at a time, as a static batch. Tokens
counted on both sides: generated tokens up to and including the end token.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from transformers import AutoModelForCausalLM


def hf_measure(ckpt, a):
    torch.set_num_threads(a.threads)
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, V, (a.prompts, a.prompt_len), generator=g)
    ends = list(range(2, 2 + a.end_tokens))
    kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=a.group,
              max_new_tokens=a.max_new, pad_token_id=0)
    if ends:
        kw["eos_token_id"] = ends
    else:
        kw["min_new_tokens"] = a.max_new
    per_call = max(1, a.batch // a.group)  # prompts per generate() call
    with torch.no_grad():
        model.generate(ids[:1], attention_mask=torch.ones_like(ids[:1]),
                       **{**kw, "num_return_sequences": 1, "max_new_tokens": 4,
                          "min_new_tokens": 4, "eos_token_id": None})  # warm-up
        best = 1e30
        tokens = 0
        for _ in range(a.iters):
            t0 = time.perf_counter()
            n = 0
            for s in range(0, a.prompts, per_call):
                chunk = ids[s:s + per_call]
                out = model.generate(chunk, attention_mask=torch.ones_like(chunk), **kw)
                gen = out[:, a.prompt_len:]
                for row in gen.tolist():
                    k = len(row)
                    for i, t in enumerate(row):
                        if t in ends:
                            k = i + 1
                            break
                    n += k
            best = min(best, time.perf_counter() - t0)
            tokens = n
    return {"impl": "transformers", "tokens": int(tokens), "seconds": best,
            "tokens_per_s": tokens / best}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.path.join(root, "build/bench/rollout_bench"))
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--max-new", type=int, default=64)
    p.add_argument("--iters", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--end-tokens", type=int, default=0)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        ckpt = os.path.join(d, "model")
        subprocess.run([a.bin, "--save", ckpt], check=True)
        args = [a.bin, "--checkpoint", ckpt, "--prompts", str(a.prompts), "--group", str(a.group),
                "--prompt-len", str(a.prompt_len), "--max-new", str(a.max_new),
                "--threads", str(a.threads), "--iters", str(a.iters), "--batch", str(a.batch),
                "--end-tokens", str(a.end_tokens)]
        ours = json.loads(subprocess.run(args, check=True, capture_output=True, text=True)
                          .stdout.strip().splitlines()[-1])
        hf = hf_measure(ckpt, a)
    print(json.dumps(ours))
    print(json.dumps(hf))
    shape = (f"lengths long-tailed ({a.end_tokens} end tokens), mean {ours['tokens'] / (a.prompts * a.group):.0f}"
             if a.end_tokens else "fixed length")
    print(f"rollout decode, {a.prompts} prompts x G={a.group}, <= {a.max_new} new tokens, {shape}, "
          f"batch {a.batch}, {a.threads} threads: grpo {ours['tokens_per_s']:.0f} tok/s, transformers "
          f"{hf['tokens_per_s']:.0f} tok/s, ratio {ours['tokens_per_s'] / hf['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
