// learner/checkpoint.h: exact, atomic training checkpoints (GRPO and SFT trainers).
// Layout of <output_dir>/checkpoint-<step>/:
//   config.json, model.safetensors   the policy in Hugging Face layout (models::save_model)
//   optimizer.pt                     AdamW moments and step (learner::Optimizer::save)
//   trainer_state.json               {step, world_size, trainer: {...}} (rank 0's)
//   rank-<r>.json                    per global rank: {state: {...data position...}, rng}
//   config.yaml                      the job config as the run used it
// Design: everything is written into checkpoint-<step>.tmp and renamed when complete, so
// a crash mid-write leaves the previous checkpoint intact and no half directory is ever
// taken for a checkpoint (latest_checkpoint ignores *.tmp). RNG states (CPU and CUDA
// generators) travel with each rank so a resumed run continues bit-identically.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace grpo::models {
class CausalLM;
}

namespace grpo::learner {

class Optimizer;
class Distributed;

struct CheckpointState {
  int64_t step = 0;        // training steps completed when saved
  nlohmann::json trainer;  // trainer-wide state (rank 0's; e.g. policy version)
  nlohmann::json rank;     // this rank's state (e.g. its data position)
};

// Collective: every rank calls it with its own `st.rank`. Rank 0 writes the model,
// optimizer, trainer state and config; each rank writes rank-<r>.json with its state and
// RNG. Then rank 0 renames the directory into place and deletes the oldest complete
// checkpoints beyond `keep_last` (0: keep all). `opt` may be null (no optimizer state).
// `extra_files`, when set, is called on rank 0 with the temporary directory before the
// rename, to add files that belong to the checkpoint (tokenizer, template, generation
// settings), so they appear atomically with it.
// Returns the final directory. Throws grpo::Error naming the path on I/O failure (the
// previous checkpoints are left untouched).
std::string save_checkpoint(const std::string& output_dir, const CheckpointState& st,
                            models::CausalLM& model, const Optimizer* opt,
                            const std::string& config_yaml, int64_t keep_last, Distributed& dist,
                            const std::function<void(const std::string& dir)>& extra_files = {});

// Restores weights (copied in place into `model`, which must have the same architecture),
// optimizer state (when `opt` is not null) and this rank's RNG state from `dir`; returns
// the step, the trainer state and this rank's state. Throws grpo::Error when the
// directory is incomplete, the world size differs from the one saved, or a tensor does
// not match (naming it).
CheckpointState load_checkpoint(const std::string& dir, models::CausalLM& model, Optimizer* opt,
                                Distributed& dist);

// The complete checkpoint with the highest step under output_dir, or "" when none.
std::string latest_checkpoint(const std::string& output_dir);

// Default CPU generator (and every CUDA device's generator, when present) as JSON; and back.
nlohmann::json capture_rng_state();
void restore_rng_state(const nlohmann::json& state);

}  // namespace grpo::learner
