#!/usr/bin/env bash
# tests/learner/train_e2e.sh GRPO_BIN WORKDIR SRC PYTHON: a short `grpo train` on CPU: tiny
# Qwen3 from scratch, a tokenizer trained here, local rollout workers over gRPC, the
# accuracy + format rewards, KL on. Checks: it completes; metrics.jsonl has one line per
# step with the core metrics; TensorBoard's own reader sees the same scalars; the workers
# and the learner agree on log-probs; `--resume` continues to the next step; a periodic
# checkpoint carries its tokenizer (`grpo eval` runs on it); in-process
# workers (local_mode=thread) work too; bad settings are refused at start-up with the numbers.
set -euo pipefail
GRPO=$1; W=$2; SRC=$3; PY=$4
rm -rf "$W"; mkdir -p "$W"
cd "$SRC"
fail() { echo "train_e2e: FAIL: $*"; exit 1; }

"$GRPO" make-data arith --n 64 --seed 1 --output "$W/train.jsonl" --with-solutions "$W/sft.jsonl" >/dev/null
"$PY" - "$W/sft.jsonl" "$W/corpus.txt" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        r = json.loads(line)
        out.write("User: " + r["prompt"] + ". Assistant:" + r["completion"] + "\n")
PYEOF
"$GRPO" train-tokenizer --vocab-size 300 --special-tokens "<|endoftext|>" --output "$W/tok" "$W/corpus.txt" >/dev/null

ARGS=('model.arch={"model_type":"qwen3","vocab_size":300,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":16,"max_position_embeddings":256,"tie_word_embeddings":false}'
      run.output_dir="$W/rl" run.device=cpu tokenizer.path="$W/tok" data.train_file="$W/train.jsonl"
      data.template=custom 'data.prompt_template="User: {prompt}. Assistant:"'
      trainer.prompts_per_step=2 rollout.num_generations=4 rollout.max_completion_length=12
      trainer.per_device_train_batch_size=4 trainer.gradient_accumulation_steps=2 trainer.beta=0.04
      trainer.learning_rate=1e-3 trainer.save_steps=1 trainer.save_total_limit=2 run.progress=lines)

# Clashing settings: refused before any worker starts, naming the numbers.
if "$GRPO" train "${ARGS[@]}" trainer.max_steps=2 trainer.gradient_accumulation_steps=3 2> "$W/bad.err"; then
  fail "a batch that does not split into accumulation windows was accepted"
fi
grep -q "gradient_accumulation_steps=3" "$W/bad.err" || fail "no numbers in: $(cat "$W/bad.err")"

"$GRPO" train "${ARGS[@]}" trainer.max_steps=2 > "$W/train.out"
grep -q "grpo train: 2 steps" "$W/train.out" || fail "train did not finish: $(cat "$W/train.out")"
"$GRPO" train --resume "${ARGS[@]}" trainer.max_steps=3 > "$W/resume.out"
grep -q "grpo train: 3 steps (from 2)" "$W/resume.out" || fail "resume: $(cat "$W/resume.out")"
[ -d "$W/rl/checkpoint-3" ] && [ ! -d "$W/rl/checkpoint-1" ] || fail "checkpoints: $(ls "$W/rl")"
# A periodic checkpoint carries its tokenizer, template and generation settings like final/:
# `grpo eval` needs nothing but the directory.
for f in tokenizer.json grpo.json model.safetensors; do
  [ -f "$W/rl/checkpoint-3/$f" ] || fail "checkpoint-3 has no $f: $(ls "$W/rl/checkpoint-3")"
done
"$GRPO" eval --checkpoint "$W/rl/checkpoint-3" --data "$W/train.jsonl" --limit 4 --progress off \
  | tail -1 | grep -q '"n":4' || fail "grpo eval on a periodic checkpoint"

# In-process workers (rollout.local_mode=thread): the same loop without child processes.
"$GRPO" train "${ARGS[@]}" run.output_dir="$W/rl_thread" rollout.local_mode=thread \
  trainer.max_steps=1 > "$W/thread.out"
grep -q "grpo train: 1 steps" "$W/thread.out" || fail "thread workers: $(cat "$W/thread.out")"
"$PY" - "$W/rl_thread/metrics.jsonl" <<'PYEOF' || fail "thread-worker metrics"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
assert r["rollout/logprob_abs_diff"] < 1e-3 and r["completions/mean_length"] > 0, r
PYEOF
# A fresh run in the same directory sets the first run's metrics aside instead of mixing them.
"$GRPO" train "${ARGS[@]}" run.output_dir="$W/rl_thread" rollout.local_mode=thread \
  trainer.max_steps=1 > "$W/thread2.out" 2> "$W/thread2.err"
[ "$(grep -c '"step":1,' "$W/rl_thread/metrics.jsonl")" = 1 ] && \
  [ "$(grep -c '"step":1,' "$W/rl_thread/metrics.1.jsonl")" = 1 ] && [ -d "$W/rl_thread/tb.1" ] || \
  fail "second fresh run: $(ls "$W/rl_thread"); $(cat "$W/thread2.err")"

"$PY" - "$W/rl" <<'PYEOF' || fail "metrics"
import json, sys, glob
from tensorboard.backend.event_processing import event_accumulator
d = sys.argv[1]
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert [r["step"] for r in rows] == [1, 2, 3], [r["step"] for r in rows]
need = ["reward", "reward_std", "rewards/accuracy/mean", "rewards/format/mean", "accuracy",
        "format_rate", "kl", "clip_ratio/region_mean", "entropy", "completions/mean_length",
        "completions/max_length", "completions/clipped_ratio", "zero_signal_groups",
        "rollout/logprob_abs_diff", "tokens_per_s", "time/rollout_s", "time/reward_s",
        "time/learn_s", "grad_norm", "learning_rate", "loss"]
for r in rows:
    missing = [k for k in need if k not in r]
    assert not missing, missing
    # Workers and learner compute the same log-probs for the same weights and tokens.
    assert r["rollout/logprob_abs_diff"] < 1e-3, r["rollout/logprob_abs_diff"]
    assert 0 < r["completions/mean_length"] <= 12
assert rows[2]["policy_version"] == 3
# TensorBoard: both runs' event files together hold steps 1..3 of the same values.
acc = event_accumulator.EventAccumulator(d + "/tb")
acc.Reload()
tags = acc.Tags()["scalars"]
assert "reward" in tags and "kl" in tags, tags
ev = {e.step: e.value for e in acc.Scalars("entropy")}
files = glob.glob(d + "/tb/events.out.tfevents.*")
vals = {}
for f in files:
    a = event_accumulator.EventAccumulator(f); a.Reload()
    vals.update({e.step: e.value for e in a.Scalars("entropy")})
assert sorted(vals) == [1, 2, 3], vals
for r in rows:
    assert abs(vals[r["step"]] - r["entropy"]) < 1e-4 * max(1, abs(r["entropy"])), (vals, r["entropy"])
print("train_e2e: metrics ok", {k: rows[-1][k] for k in ["reward", "kl", "entropy", "tokens_per_s"]})
PYEOF
echo "train_e2e: ok"
