#!/usr/bin/env python3
"""Loads a checkpoint directory written by grpo with transformers and compares its logits
with the ones grpo computed (tests/models/hf_roundtrip_test.cpp).

Usage: hf_load_check.py CKPT_DIR REFERENCE.safetensors
REFERENCE holds input_ids [B, T] int64 and logits [B, T, V] fp32 from grpo.
Exits 0 and prints the max abs error when it is <= 1e-4; exits 1 otherwise.
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


def main():
    ckpt, ref_path = sys.argv[1], sys.argv[2]
    ref = load_file(ref_path)
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    with torch.no_grad():
        logits = model(input_ids=ref["input_ids"]).logits.float()
    err = (logits - ref["logits"]).abs().max().item()
    print(f"{type(model).__name__}: max abs error {err:.3e}")
    sys.exit(0 if err <= 1e-4 else 1)


if __name__ == "__main__":
    main()
