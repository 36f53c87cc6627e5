// rollout/group_table.h: the bookkeeping of one RolloutClient::generate() call, apart from
// any networking, so it can be tested on its own.
//
//   GroupTable t(P, G, max_attempts);
//   auto counts = split_by_capacity(t.num_pending(), free_slots);   // per live worker
//   auto mine = t.dispatch(share, counts[k]);     // groups sent to worker k as `share`
//   t.accept(share, std::move(completion));       // as they stream back
//   t.release(share, mine);                       // stream ended: unfinished -> pending
//
// Design: every group is in exactly one state: pending, owned by one in-flight share, or
// complete. A completion counts only when its group is owned by the share that delivers it
// and that sample is still missing, so a group re-sent after a failure is accepted exactly
// once and late answers from a dead share are ignored. Not thread-safe: the client calls it
// under its own mutex.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "rollout/completion.h"

namespace grpo::rollout {

// Splits `n` groups over workers in proportion to their free slots (sequences), rounding
// up so earlier workers take the remainder; the counts sum to n. Workers with 0 free slots
// count as 1 (they still take a share). Pure; throws grpo::Error for an empty list.
std::vector<int64_t> split_by_capacity(int64_t n, const std::vector<int64_t>& free_slots);

class GroupTable {
 public:
  GroupTable(int64_t num_groups, int64_t group_size, int64_t max_attempts);

  int64_t num_groups() const { return static_cast<int64_t>(owner_.size()); }
  int64_t num_pending() const { return static_cast<int64_t>(pending_.size()); }
  int64_t num_complete() const { return n_complete_; }
  bool done() const { return n_complete_ == num_groups(); }

  // Moves up to `n` pending groups (oldest first) to `share` and returns their indices.
  // Throws grpo::Error naming the group when one has already been sent max_attempts times.
  std::vector<int64_t> dispatch(int share, int64_t n);

  // Records completion `c` (its prompt_index and sample_index) for `share`. Returns true
  // when it was taken; false when its group is not owned by `share`, the index is out of
  // range, or that sample is already there (duplicate).
  bool accept(int share, Completion&& c);

  // Returns the groups among `sent` that `share` still owns (not complete) to the pending
  // queue, dropping their partial answers. Returns those group indices.
  std::vector<int64_t> release(int share, const std::vector<int64_t>& sent);

  // The complete groups, each with its prompt (prompts[p]) and its G samples sorted by
  // sample index. Call once, when done().
  std::vector<Group> take_groups(const std::vector<SharedIds>& prompts);

 private:
  int64_t group_size_, max_attempts_;
  std::deque<int64_t> pending_;
  std::vector<int> owner_;  // share holding the group; -1: pending or complete
  std::vector<int64_t> attempts_;
  std::vector<std::vector<std::optional<Completion>>> partial_;
  std::vector<std::vector<Completion>> complete_;
  std::vector<bool> is_complete_;
  int64_t n_complete_ = 0;
};

}  // namespace grpo::rollout
