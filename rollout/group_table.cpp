// rollout/group_table.cpp: see group_table.h.
#include "rollout/group_table.h"

#include <algorithm>

#include "core/error.h"

namespace grpo::rollout {

std::vector<int64_t> split_by_capacity(int64_t n, const std::vector<int64_t>& free_slots) {
  GRPO_ENSURE(!free_slots.empty(), "split_by_capacity: no workers");
  int64_t total = 0;
  for (int64_t f : free_slots) total += std::max<int64_t>(1, f);
  std::vector<int64_t> out(free_slots.size(), 0);
  int64_t given = 0;
  for (size_t k = 0; k < free_slots.size(); ++k) {
    const bool last = k + 1 == free_slots.size();
    int64_t want = last ? n - given : (n * std::max<int64_t>(1, free_slots[k]) + total - 1) / total;
    want = std::min(want, n - given);
    out[k] = want;
    given += want;
  }
  return out;
}

GroupTable::GroupTable(int64_t num_groups, int64_t group_size, int64_t max_attempts)
    : group_size_(group_size),
      max_attempts_(max_attempts),
      owner_(static_cast<size_t>(num_groups), -1),
      attempts_(static_cast<size_t>(num_groups), 0),
      partial_(static_cast<size_t>(num_groups)),
      complete_(static_cast<size_t>(num_groups)),
      is_complete_(static_cast<size_t>(num_groups), false) {
  GRPO_ENSURE(group_size >= 1, "group_size must be >= 1, got ", group_size);
  for (int64_t p = 0; p < num_groups; ++p) pending_.push_back(p);
}

std::vector<int64_t> GroupTable::dispatch(int share, int64_t n) {
  std::vector<int64_t> out;
  while (static_cast<int64_t>(out.size()) < n && !pending_.empty()) {
    const int64_t p = pending_.front();
    const auto i = static_cast<size_t>(p);
    GRPO_ENSURE(attempts_[i] < max_attempts_, "prompt ", p, " failed on ", max_attempts_,
                " workers");
    pending_.pop_front();
    ++attempts_[i];
    owner_[i] = share;
    partial_[i].assign(static_cast<size_t>(group_size_), std::nullopt);
    out.push_back(p);
  }
  return out;
}

bool GroupTable::accept(int share, Completion&& c) {
  const int64_t p = c.prompt_index;
  if (p < 0 || p >= num_groups() || c.sample_index < 0 || c.sample_index >= group_size_) return false;
  const auto i = static_cast<size_t>(p);
  if (owner_[i] != share) return false;  // not ours, or a group already re-sent elsewhere
  auto& slot = partial_[i][static_cast<size_t>(c.sample_index)];
  if (slot) return false;  // duplicate
  slot = std::move(c);
  for (const auto& s : partial_[i])
    if (!s) return true;
  for (auto& s : partial_[i]) complete_[i].push_back(std::move(*s));
  partial_[i].clear();
  is_complete_[i] = true;
  owner_[i] = -1;
  ++n_complete_;
  return true;
}

std::vector<int64_t> GroupTable::release(int share, const std::vector<int64_t>& sent) {
  std::vector<int64_t> lost;
  for (int64_t p : sent) {
    const auto i = static_cast<size_t>(p);
    if (owner_[i] != share) continue;
    owner_[i] = -1;
    partial_[i].clear();
    pending_.push_back(p);
    lost.push_back(p);
  }
  return lost;
}

std::vector<Group> GroupTable::take_groups(const std::vector<SharedIds>& prompts) {
  GRPO_CHECK(done() && prompts.size() == owner_.size());
  std::vector<Group> out(prompts.size());
  for (size_t p = 0; p < out.size(); ++p) {
    out[p].prompt = prompts[p];
    out[p].samples = std::move(complete_[p]);
  }
  return out;
}

}  // namespace grpo::rollout
