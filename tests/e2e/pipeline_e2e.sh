#!/usr/bin/env bash
# tests/e2e/pipeline_e2e.sh GRPO_BIN WORKDIR SRC: the pipeline end to end on a very small
# config: make-data -> train-tokenizer -> sft (a tiny DeepSeek-style model, a few steps)
# -> eval (JSON line with accuracy, format_rate, n) -> checkpoint carries tokenizer and
# grpo.json. When `grpo train` is built, also a few GRPO steps from the SFT checkpoint
# and an eval of the RL checkpoint.
set -euo pipefail
GRPO=$1; W=$2; SRC=$3
rm -rf "$W"; mkdir -p "$W"
cd "$SRC"
fail() { echo "pipeline_e2e: FAIL: $*"; exit 1; }

"$GRPO" make-data arith --n 200 --seed 1 --output "$W/train.jsonl" --with-solutions "$W/sft.jsonl"
"$GRPO" make-data arith --n 12 --seed 2 --output "$W/test.jsonl"
[ "$(wc -l < "$W/train.jsonl")" = 200 ] || fail "train rows"
"$GRPO" make-data countdown --n 5 --seed 1 --output "$W/cd.jsonl"
# The same seed gives the same rows.
"$GRPO" make-data arith --n 200 --seed 1 --output "$W/train2.jsonl"
cmp -s "$W/train.jsonl" "$W/train2.jsonl" || fail "make-data is not deterministic"
# Bad input: an error naming the problem, non-zero exit.
if "$GRPO" make-data nonsense --n 3 --output "$W/x.jsonl" 2>/dev/null; then fail "bad kind accepted"; fi

python3 - "$W/sft.jsonl" "$W/corpus.txt" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        r = json.loads(line)
        out.write("User: " + r["prompt"] + ". Assistant:" + r["completion"] + "\n")
PYEOF
"$GRPO" train-tokenizer --vocab-size 320 --special-tokens "<|endoftext|>" --output "$W/tok" "$W/corpus.txt"

ARCH='model.arch={"model_type":"deepseek_v3","hidden_size":32,"intermediate_size":64,"moe_intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":2,"n_shared_experts":1,"n_routed_experts":4,"num_experts_per_tok":2,"n_group":1,"topk_group":1,"first_k_dense_replace":1,"kv_lora_rank":16,"q_lora_rank":16,"qk_rope_head_dim":8,"qk_nope_head_dim":8,"v_head_dim":8,"max_position_embeddings":256,"num_nextn_predict_layers":1,"rope_parameters":{"rope_type":"default","rope_theta":10000.0}}'
"$GRPO" sft "$ARCH" run.output_dir="$W/sft" run.device=cpu tokenizer.path="$W/tok" \
  data.task=math data.template=custom 'data.prompt_template="User: {prompt}. Assistant:"' \
  sft.train_file="$W/sft.jsonl" sft.max_steps=6 sft.per_device_train_batch_size=4 \
  sft.max_seq_length=256 sft.learning_rate=3e-3 run.progress=lines run.tensorboard=false > "$W/sft.out"
tail -1 "$W/sft.out" | grep -q '"final"' || fail "sft printed no result line"
for f in config.json model.safetensors tokenizer.json grpo.json; do
  [ -f "$W/sft/final/$f" ] || fail "sft/final/$f missing"
done
grep -q '"sft/loss"' "$W/sft/metrics.jsonl" || fail "no sft/loss metric"

"$GRPO" eval --checkpoint "$W/sft/final" --data "$W/test.jsonl" --max-new-tokens 24 --progress off > "$W/eval.out"
python3 - "$W/eval.out" <<'PYEOF' || fail "eval output"
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert j["n"] == 12 and 0 <= j["accuracy"] <= 1 and 0 <= j["format_rate"] <= 1, j
print("pipeline_e2e: eval", j)
PYEOF
"$GRPO" eval --checkpoint "$W/sft/final" --data "$W/test.jsonl" --max-new-tokens 16 --samples 3 \
  --temperature 1.0 --progress off | tail -1 | grep -q '"pass@3"' || fail "pass@K missing"

if "$GRPO" train --help 2>&1 | grep -q "not built"; then
  echo "pipeline_e2e: grpo train not built; RL stage skipped"
else
  "$GRPO" train "$ARCH" model.path="$W/sft/final" run.output_dir="$W/rl" run.device=cpu \
    tokenizer.path="$W/sft/final" data.train_file="$W/train.jsonl" data.template=custom \
    'data.prompt_template="User: {prompt}. Assistant:"' trainer.max_steps=2 trainer.prompts_per_step=2 \
    rollout.num_generations=4 rollout.max_completion_length=16 trainer.per_device_train_batch_size=8 \
    run.progress=lines run.tensorboard=false
  [ -f "$W/rl/final/model.safetensors" ] || fail "rl/final missing"
  "$GRPO" eval --checkpoint "$W/rl/final" --tokenizer "$W/sft/final" --template custom \
    --prompt-template 'User: {prompt}. Assistant:' --data "$W/test.jsonl" --max-new-tokens 16 \
    --progress off | tail -1 | grep -q '"accuracy"' || fail "eval of the RL checkpoint"
fi
echo "pipeline_e2e: OK"
