#!/usr/bin/env bash
# scripts/demo.sh: the README's main command. Installs what is missing, builds `grpo`,
# then runs the demo pipeline of configs/demo.yaml on the CPU:
#   1. make-data: 36000 arith rows with worked SFT traces (seed 1), 24000 fresh RL prompts
#      (seed 4), 300 fresh eval rows (seed 2), a 100-row held-out file for periodic
#      evaluation during RL (seed 3);
#   2. train-tokenizer: a byte-level BPE (one token per digit) trained on the rendered
#      prompts and traces;
#   3. sft: cold-start SFT of a small DeepSeek-style model -> runs/demo/sft/final;
#   4. eval of the SFT checkpoint on the 300 fresh rows;
#   5. train: GRPO (format + accuracy) through local rollout workers over gRPC, starting
#      from the SFT checkpoint (also the reference) -> runs/demo/rl/final;
#   6. eval of the RL checkpoint on the same 300 rows; both accuracies are printed;
#   7. plot: runs/demo/rl/metrics.png (reward, accuracy, completion length per RL step).
# Environment: GRPO_BUILD_DIR (default build), DEMO_OUT (default runs/demo), DEMO_SFT_ROWS,
# DEMO_RL_STEPS, and any extra KEY=VALUE overrides in DEMO_OVERRIDES.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${GRPO_BUILD_DIR:-build}
OUT=${DEMO_OUT:-runs/demo}
SFT_ROWS=${DEMO_SFT_ROWS:-36000}
RL_STEPS=${DEMO_RL_STEPS:-180}
PY=${GRPO_VENV:-/opt/grpo/venv}/bin/python
read -r -a EXTRA <<< "${DEMO_OVERRIDES:-}"
# SFT and eval run alone and use both cores. During RL the learner takes 2 intra-op threads
# and each of the 2 rollout worker processes 1; they take turns, rollout then learning
# (run.num_threads / rollout.* in configs/demo.yaml; the environment says 1 so no other
# OpenMP pool spins against them: that cost up to 50x).
THREADS=${OMP_NUM_THREADS:-2}

t_start=$(date +%s)
if [ -z "${DEMO_SKIP_BUILD:-}" ]; then
  echo "== setup and build (one time)"
  scripts/setup.sh
  GRPO_BUILD_DIR=$BUILD scripts/build.sh
fi
GRPO="$ROOT/$BUILD/apps/grpo"
[ -x "$GRPO" ] || { echo "demo: $GRPO not found; build first"; exit 1; }
t_built=$(date +%s)

mkdir -p "$OUT/data"
echo "== data"
"$GRPO" make-data arith --n "$SFT_ROWS" --seed 1 --output "$OUT/data/sft_rows.jsonl" --with-solutions "$OUT/data/sft.jsonl"
"$GRPO" make-data arith --n 24000 --seed 4 --output "$OUT/data/train.jsonl"
"$GRPO" make-data arith --n 300 --seed 2 --output "$OUT/data/test.jsonl"
"$GRPO" make-data arith --n 100 --seed 3 --output "$OUT/data/heldout.jsonl"

echo "== tokenizer"
"$PY" - "$OUT/data/sft.jsonl" "$OUT/data/corpus.txt" <<'PYEOF'
import json, sys
# The prompt template of configs/demo.yaml with each question, then its worked trace.
T = "User: {prompt} Assistant:"
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        r = json.loads(line)
        out.write(T.replace("{prompt}", r["prompt"]) + r["completion"] + "\n")
PYEOF
"$GRPO" train-tokenizer --vocab-size 400 --split-digits --special-tokens "<|endoftext|>" \
  --output "$OUT/tokenizer" "$OUT/data/corpus.txt"

echo "== SFT"
t0=$(date +%s)
OMP_NUM_THREADS=$THREADS "$GRPO" sft --config configs/demo.yaml run.output_dir="$OUT/sft" tokenizer.path="$OUT/tokenizer" \
  sft.train_file="$OUT/data/sft.jsonl" run.progress=lines "${EXTRA[@]}"
t_sft=$(( $(date +%s) - t0 ))

echo "== eval SFT"
t0=$(date +%s)
OMP_NUM_THREADS=$THREADS "$GRPO" eval --checkpoint "$OUT/sft/final" --data "$OUT/data/test.jsonl" --progress lines \
  --output "$OUT/eval_sft.json" | tail -1
t_eval1=$(( $(date +%s) - t0 ))

echo "== GRPO"
t0=$(date +%s)
OMP_NUM_THREADS=1 "$GRPO" train --config configs/demo.yaml model.path="$OUT/sft/final" run.output_dir="$OUT/rl" \
  tokenizer.path="$OUT/sft/final" data.train_file="$OUT/data/train.jsonl" \
  data.eval_file="$OUT/data/heldout.jsonl" sft.enabled=false trainer.max_steps="$RL_STEPS" \
  run.progress=lines "${EXTRA[@]}"
t_rl=$(( $(date +%s) - t0 ))

echo "== eval RL"
t0=$(date +%s)
OMP_NUM_THREADS=$THREADS "$GRPO" eval --checkpoint "$OUT/rl/final" --data "$OUT/data/test.jsonl" --progress lines --output "$OUT/eval_rl.json" | tail -1
t_eval2=$(( $(date +%s) - t0 ))

"$PY" scripts/plot_metrics.py "$OUT/rl/metrics.jsonl" "$OUT/rl/metrics.png" \
  --baseline "$OUT/eval_sft.json" --final "$OUT/eval_rl.json"

"$PY" - "$OUT" "$t_sft" "$t_eval1" "$t_rl" "$t_eval2" "$(( t_built - t_start ))" <<'PYEOF'
import json, sys
out, ts, te1, tr, te2, tb = sys.argv[1], *map(int, sys.argv[2:])
s = json.load(open(f"{out}/eval_sft.json")); r = json.load(open(f"{out}/eval_rl.json"))
print(f"SFT accuracy {100*s['accuracy']:.1f}%  format {100*s['format_rate']:.1f}%")
print(f"RL  accuracy {100*r['accuracy']:.1f}%  format {100*r['format_rate']:.1f}%  "
      f"({100*(r['accuracy']-s['accuracy']):+.1f} points)")
print(f"time: sft {ts}s, eval {te1}s, rl {tr}s, eval {te2}s, total {ts+te1+tr+te2}s "
      f"(setup+build {tb}s)")
print(f"plot: {out}/rl/metrics.png")
PYEOF
