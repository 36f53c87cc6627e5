#!/usr/bin/env python3
"""Runs bench/model_bench (grpo) and transformers on the same checkpoint, same shapes and
thread count, in one run, and prints forward/decode tokens/s with the ratio grpo/HF.

Usage: /opt/grpo/venv/bin/python bench/model_bench.py [--bin build/bench/model_bench]
          [--threads 1] [--batch 4] [--seq 128] [--prompt 32] [--steps 64] [--iters 3]
The grpo binary builds the small DeepSeek-V3-style model of model_bench.cpp (MLA, MoE
16 experts top-4 with group-limited routing, 4 layers, hidden 512, vocab 8192), saves it,
and transformers loads that directory (fp32, CPU, sdpa attention, DynamicCache decode).
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
    ids = torch.randint(0, V, (a.batch, a.seq), generator=g)
    out = []
    with torch.no_grad():
        model(input_ids=ids)  # warm-up
        best = 1e30
        for _ in range(a.iters):
            t0 = time.perf_counter()
            model(input_ids=ids).logits.sum().item()
            best = min(best, time.perf_counter() - t0)
        out.append({"impl": "transformers", "phase": "forward", "seconds": best,
                    "tokens_per_s": a.batch * a.seq / best})
        best = 1e30
        for _ in range(a.iters):
            o = model(input_ids=ids[:, : a.prompt], use_cache=True)
            cache = getattr(o, "cache", None) or o.past_key_values
            logits = o.logits[:, -1]
            t0 = time.perf_counter()
            for _ in range(a.steps):
                nxt = logits.argmax(-1, keepdim=True)
                o = model(input_ids=nxt, past_key_values=cache, use_cache=True)
                cache = getattr(o, "cache", None) or o.past_key_values
                logits = o.logits[:, -1]
            logits.sum().item()
            best = min(best, time.perf_counter() - t0)
        out.append({"impl": "transformers", "phase": "decode", "seconds": best,
                    "tokens_per_s": a.batch * a.steps / best})
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.path.join(root, "build/bench/model_bench"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--iters", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "ckpt")
        cmd = [a.bin, "--save", ckpt, "--threads", str(a.threads), "--batch", str(a.batch),
               "--seq", str(a.seq), "--prompt", str(a.prompt), "--steps", str(a.steps),
               "--iters", str(a.iters)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"model_bench failed: {res.stderr}")
        grpo = [json.loads(l) for l in res.stdout.splitlines() if l.startswith("{")]
        hf = hf_measure(ckpt, a)
    print(f"model: small DeepSeek-V3-style (see bench/model_bench.cpp), fp32 CPU, "
          f"{a.threads} threads, batch {a.batch}, forward seq {a.seq}, "
          f"decode {a.steps} steps after a {a.prompt}-token prompt")
    print(f"{'phase':<8} {'grpo tok/s':>12} {'HF tok/s':>12} {'grpo/HF':>8}")
    for phase in ("forward", "decode"):
        g = next(r for r in grpo if r["phase"] == phase)["tokens_per_s"]
        h = next(r for r in hf if r["phase"] == phase)["tokens_per_s"]
        print(f"{phase:<8} {g:12.1f} {h:12.1f} {g / h:8.2f}")


if __name__ == "__main__":
    main()
