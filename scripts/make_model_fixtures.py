#!/usr/bin/env python3
"""Generates the model parity fixtures under tests/models/fixtures/ with HF transformers.

For each tiny architecture (a DeepSeek-V3 with MLA, q_lora_rank, YaRN with mscale, MoE with
group-limited routing, a random e_score_correction_bias, first_k_dense_replace=1; and a
Qwen3 with GQA, an explicit head_dim and tied embeddings) it writes
  <name>/config.json, <name>/model.safetensors   (transformers' save_pretrained)
  <name>/reference.safetensors                   (input_ids, attention_mask and the
                                                  eager-attention fp32 logits for an
                                                  unpadded and a padded batch)
The C++ tests (tests/models/parity_test.cpp) load both and compare (max abs err <= 1e-4).
Run: /opt/grpo/venv/bin/python scripts/make_model_fixtures.py [OUT_DIR]
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEEPSEEK_V3 = dict(
    model_type="deepseek_v3", vocab_size=320, hidden_size=64, intermediate_size=96,
    moe_intermediate_size=16, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
    n_shared_experts=1, n_routed_experts=8, routed_scaling_factor=2.5, kv_lora_rank=32,
    q_lora_rank=24, qk_rope_head_dim=8, v_head_dim=16, qk_nope_head_dim=16, n_group=4,
    topk_group=2, num_experts_per_tok=2, first_k_dense_replace=1, norm_topk_prob=True,
    hidden_act="silu", max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False,
    rope_interleave=True, attention_bias=False, initializer_range=0.1,
    num_nextn_predict_layers=1, bos_token_id=0, eos_token_id=1,
    rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0,
                         original_max_position_embeddings=64, beta_fast=32, beta_slow=1,
                         mscale=1.0, mscale_all_dim=0.8),
)

QWEN3 = dict(
    model_type="qwen3", vocab_size=320, hidden_size=64, intermediate_size=96,
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
    hidden_act="silu", max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=True,
    attention_bias=False, initializer_range=0.1, bos_token_id=0, eos_token_id=1,
    rope_parameters=dict(rope_type="default", rope_theta=1000000.0),
)


def build(arch, seed):
    cfg = AutoConfig.for_model(**arch)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))  # non-trivial norm weights
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.1 * torch.randn_like(b))  # selection must honour the bias
    return model


def batches(vocab, gen):
    B, T = 3, 11
    ids = torch.randint(2, vocab, (B, T), generator=gen)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 7:] = 0   # right padding
    mask[2, :3] = 0   # left padding
    return ids, mask


def write(name, arch, seed, out_root):
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    model = build(arch, seed)
    model.save_pretrained(out, safe_serialization=True)
    gen = torch.Generator().manual_seed(seed + 1)
    ids, mask = batches(arch["vocab_size"], gen)
    with torch.no_grad():
        full = model(input_ids=ids).logits.float()
        padded = model(input_ids=ids, attention_mask=mask).logits.float()
    save_file({"input_ids": ids.contiguous(), "attention_mask": mask.contiguous(),
               "logits": full.contiguous(), "logits_padded": padded.contiguous()},
              os.path.join(out, "reference.safetensors"), metadata={"format": "pt"})
    for f in ("generation_config.json",):
        p = os.path.join(out, f)
        if os.path.exists(p):
            os.remove(p)
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))}
    print(name, json.dumps(sizes))


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/models/fixtures")
    torch.set_default_dtype(torch.float32)
    write("deepseek_v3_tiny", DEEPSEEK_V3, 1234, out_root)
    write("qwen3_tiny", QWEN3, 4321, out_root)


if __name__ == "__main__":
    main()
