#!/usr/bin/env python3
"""Runs bench/rollout_bench (grpo's rollout engine) and transformers generate() on the same
checkpoint and settings in one run, and prints decode tokens/s and the ratio grpo/HF.

Usage: /opt/grpo/venv/bin/python bench/rollout_bench.py [--bin build/bench/rollout_bench]
          [--threads 4] [--prompts 8] [--group 8] [--prompt-len 32] [--max-new 64] [--iters 2]
The grpo binary writes the small DeepSeek-V3-style model of rollout_bench.cpp (MLA, MoE 16
experts top-4, 4 layers, hidden 256, vocab 8192, fp32); transformers loads that directory.
Both sample G answers per prompt (temperature 1, no top-k/top-p, exactly max_new tokens
each: no EOS stop); HF uses num_return_sequences=G. Tokens/s = generated tokens / wall
time including prefill; best of --iters.
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
    kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=a.group,
              max_new_tokens=a.max_new, min_new_tokens=a.max_new, pad_token_id=0,
              attention_mask=torch.ones_like(ids))
    with torch.no_grad():
        model.generate(ids[:1], **{**kw, "num_return_sequences": 1, "max_new_tokens": 4,
                                   "min_new_tokens": 4,
                                   "attention_mask": torch.ones_like(ids[:1])})  # warm-up
        best = 1e30
        tokens = 0
        for _ in range(a.iters):
            t0 = time.perf_counter()
            out = model.generate(ids, **kw)
            best = min(best, time.perf_counter() - t0)
            tokens = (out.shape[1] - a.prompt_len) * out.shape[0]
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
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        ckpt = os.path.join(d, "model")
        subprocess.run([a.bin, "--save", ckpt], check=True)
        args = [a.bin, "--checkpoint", ckpt, "--prompts", str(a.prompts), "--group", str(a.group),
                "--prompt-len", str(a.prompt_len), "--max-new", str(a.max_new),
                "--threads", str(a.threads), "--iters", str(a.iters)]
        ours = json.loads(subprocess.run(args, check=True, capture_output=True, text=True)
                          .stdout.strip().splitlines()[-1])
        hf = hf_measure(ckpt, a)
    print(json.dumps(ours))
    print(json.dumps(hf))
    print(f"rollout decode, {a.prompts} prompts x G={a.group}, {a.max_new} new tokens, "
          f"{a.threads} threads: grpo {ours['tokens_per_s']:.0f} tok/s, transformers "
          f"{hf['tokens_per_s']:.0f} tok/s, ratio {ours['tokens_per_s'] / hf['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
