#!/usr/bin/env bash
# tests/e2e/code_rl_e2e.sh GRPO_BIN WORKDIR SRC: a small R1-Zero-style run with the `code`
# reward on a toy task (issue 18): toy data (tests/e2e/code_toy_data.py) -> tokenizer ->
# `grpo train --config configs/r1_zero_code_toy.yaml` (cold-start SFT, then GRPO steps whose
# completions' programs run in the sandbox). Passes when every RL step logged the code
# reward with no reward failure, and programs really ran and passed (mean code reward > 0
# in some step: a program printed the right value).
set -euo pipefail
GRPO=$1; W=$2; SRC=$3
rm -rf "$W"; mkdir -p "$W"
cd "$SRC"
fail() { echo "code_rl_e2e: FAIL: $*"; exit 1; }

python3 tests/e2e/code_toy_data.py "$W/data" 400 1
"$GRPO" train-tokenizer --vocab-size 300 --special-tokens "<|endoftext|>" --split-digits \
  --output "$W/tok" "$W/data/corpus.txt"
"$GRPO" train --config configs/r1_zero_code_toy.yaml run.output_dir="$W/run" \
  tokenizer.path="$W/tok" data.train_file="$W/data/train.jsonl" \
  sft.train_file="$W/data/sft.jsonl" run.progress=lines run.tensorboard=false > "$W/train.out" 2>&1 \
  || { tail -30 "$W/train.out"; fail "grpo train exited non-zero"; }
[ -f "$W/run/rl/final/model.safetensors" ] || fail "rl/final missing"
python3 - "$W/run/rl/metrics.jsonl" <<'PYEOF' || fail "metrics"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [r for r in rows if "rewards/code/mean" in r]
assert len(steps) >= 4, f"expected 4 RL steps with the code reward, got {len(steps)}: {rows[-1]}"
for r in steps:
    for k in ("thrown", "timed_out", "nan", "data_errors"):
        assert r[f"rewards/code/{k}"] == 0, (k, r)
means = [r["rewards/code/mean"] for r in steps]
assert max(means) > 0, f"no program passed in any step: {means}"
print("code_rl_e2e: rewards/code/mean per step", [round(m, 3) for m in means])
PYEOF
echo "code_rl_e2e: OK"
