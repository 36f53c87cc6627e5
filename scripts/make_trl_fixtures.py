#!/usr/bin/env python3
"""Golden fixtures for the learner's GRPO loss, produced by TRL's own loss code.

Writes tests/learner/fixtures/trl/:
  model/config.json, model/model.safetensors   a tiny seeded Qwen3 (HF layout)
  inputs.safetensors                           prompt_ids [B, P], completion_ids [B, C],
                                               completion_mask [B, C], advantages [B],
                                               old_logps [B, C], ref_logps [B, C]
  cases.json                                   one entry per case: TRL settings + loss
  grads_<case>.safetensors                     d loss / d parameter, HF names

Each case runs trl.GRPOTrainer._compute_loss (the method TRL trains with) on an object
carrying only the attributes that method reads; the model is patched with TRL's
add_fused_lm_head exactly as GRPOTrainer.__init__ does. Cases cover every loss_type with
and without the KL term and with clipping active or not, plus GSPO sequence ratios,
asymmetric clipping and the dual clip (delta).

Usage: /opt/grpo/venv/bin/python scripts/make_trl_fixtures.py [OUT_DIR]
"""
import collections
import json
import pathlib
import sys
import types

import torch
from accelerate import Accelerator
from safetensors.torch import save_file
from transformers import Qwen3Config, Qwen3ForCausalLM
import trl
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import add_fused_lm_head

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/learner/fixtures/trl"

B, P, C = 4, 5, 6
TEMPERATURE = 0.9
MAX_COMPLETION_LENGTH = 8


def tiny_model() -> Qwen3ForCausalLM:
    torch.manual_seed(1234)
    cfg = Qwen3Config(vocab_size=48, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                      max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0,
                      tie_word_embeddings=False, attention_bias=False, hidden_act="silu",
                      torch_dtype="float32")
    model = Qwen3ForCausalLM(cfg).float()
    # HF initialises norms to 1; perturb them so a wrong norm placement shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def fake_trainer(model, case):
    t = GRPOTrainer.__new__(GRPOTrainer)
    t.__dict__.update(
        model=model, accelerator=Accelerator(cpu=True), loss_type=case["loss_type"],
        beta=case["beta"], epsilon_low=case["epsilon"], epsilon_high=case["epsilon_high"],
        importance_sampling_level=case["importance_sampling_level"], top_entropy_quantile=1.0,
        off_policy_mask_threshold=None, use_vllm=False, vllm_importance_sampling_correction=False,
        current_gradient_accumulation_steps=1, max_completion_length=MAX_COMPLETION_LENGTH,
        _entropy_bonus_enabled=False, aux_loss_enabled=False, temperature=TEMPERATURE,
        _metrics={"train": collections.defaultdict(list), "eval": collections.defaultdict(list)},
        args=types.SimpleNamespace(delta=case["delta"], use_bias_correction_kl=False,
                                   steps_per_generation=1))
    return t


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    model = tiny_model()
    model.save_pretrained(OUT / "model", safe_serialization=True)
    add_fused_lm_head(model, temperature=TEMPERATURE, outputs=("log_probs", "entropy"))
    model.train()  # no dropout in Qwen3; train() only selects TRL's "train" metrics

    g = torch.Generator().manual_seed(7)
    prompt_ids = torch.randint(1, 48, (B, P), generator=g)
    completion_ids = torch.randint(1, 48, (B, C), generator=g)
    lengths = torch.tensor([6, 4, 5, 2])
    completion_mask = (torch.arange(C)[None, :] < lengths[:, None]).long()
    completion_ids = completion_ids * completion_mask  # pad id 0 after the end
    advantages = torch.tensor([1.2, -0.7, 0.5, -1.1])

    # Current log-probs, then old/ref log-probs as perturbations so ratios leave [0.8, 1.2].
    with torch.no_grad():
        out = model(input_ids=torch.cat([prompt_ids, completion_ids], 1),
                    attention_mask=torch.cat([torch.ones_like(prompt_ids), completion_mask], 1),
                    labels=torch.cat([torch.full_like(prompt_ids, -100),
                                      completion_ids.masked_fill(completion_mask == 0, -100)], 1),
                    fused_lm_head=True)
        cur = out.log_probs[:, -C:]
    old_logps = (cur + 0.35 * torch.randn(B, C, generator=g)) * completion_mask
    ref_logps = (cur + 0.25 * torch.randn(B, C, generator=g)) * completion_mask

    save_file({"prompt_ids": prompt_ids.contiguous(), "completion_ids": completion_ids.contiguous(),
               "completion_mask": completion_mask.contiguous(), "advantages": advantages,
               "old_logps": old_logps.contiguous(), "ref_logps": ref_logps.contiguous(),
               "current_logps": cur.contiguous()}, str(OUT / "inputs.safetensors"))

    cases = []
    for lt in ["grpo", "bnpo", "dapo", "dr_grpo"]:
        cases.append(dict(loss_type=lt, beta=0.0, epsilon=0.2, epsilon_high=0.2))      # clip on
        cases.append(dict(loss_type=lt, beta=0.04, epsilon=0.2, epsilon_high=0.28))    # clip + KL
        cases.append(dict(loss_type=lt, beta=0.04, epsilon=0.99, epsilon_high=100.0))  # KL, no clip
    cases.append(dict(loss_type="grpo", beta=0.0, epsilon=0.2, epsilon_high=0.2, delta=1.25))
    cases.append(dict(loss_type="grpo", beta=0.04, epsilon=3e-4, epsilon_high=4e-4,
                      importance_sampling_level="sequence"))
    cases.append(dict(loss_type="dapo", beta=0.0, epsilon=3e-4, epsilon_high=4e-4,
                      importance_sampling_level="sequence"))

    results = []
    for i, case in enumerate(cases):
        case.setdefault("delta", None)
        case.setdefault("importance_sampling_level", "token")
        name = f"case{i:02d}_{case['loss_type']}"
        trainer = fake_trainer(model, case)
        model.zero_grad(set_to_none=True)
        inputs = {"prompt_ids": prompt_ids, "prompt_mask": torch.ones_like(prompt_ids),
                  "completion_ids": completion_ids, "completion_mask": completion_mask,
                  "advantages": advantages, "old_per_token_logps": old_logps,
                  "ref_per_token_logps": ref_logps,
                  "num_items_in_batch": completion_mask.sum()}
        loss = trainer._compute_loss(model, inputs)
        loss.backward()
        grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()
                 if p.grad is not None}
        save_file(grads, str(OUT / f"grads_{name}.safetensors"))
        m = trainer._metrics["train"]
        results.append(dict(name=name, **case, loss=loss.item(),
                            clip_region=m["clip_ratio/region_mean"][0],
                            kl=m["kl"][0] if "kl" in m else 0.0))
        print(f"{name}: loss={loss.item():.6f} clip={results[-1]['clip_region']:.3f}")
    meta = dict(trl_version=trl.__version__, torch_version=torch.__version__,
                temperature=TEMPERATURE, max_completion_length=MAX_COMPLETION_LENGTH,
                cases=results)
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
