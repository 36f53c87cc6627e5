// rollout/engine.cpp: scheduler of the generation engine (see engine.h).
// Per step: (1) drop cancelled work, (2) admit waiting groups into free slots (prefill the
// prompt once with B = 1, copy the slot to the group's other samples, sample each sample's
// first token from the shared prefill logits; a group only partly admitted keeps its
// prefilled prompt in the cache's staging slot for its later samples), (3) decode one token
// for all running sequences in one [B, 1] call, sample, and retire the finished ones.
#include "rollout/engine.h"

#include <ATen/ops/from_blob.h>

#include <algorithm>

#include "core/error.h"
#include "models/causal_lm.h"

namespace grpo::rollout {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kEos: return "eos";
  }
  return "unknown";
}

struct Engine::Ticket {
  uint64_t id = 0;
  Sink sink;
  ErrorSink on_error;
  bool dead = false;  // cancelled or failed
};

struct Engine::Waiting {
  std::shared_ptr<Ticket> ticket;
  std::shared_ptr<const GroupRequest> group;
  int64_t next_sample = 0;  // samples [next_sample, G) still to admit
};

struct Engine::Seq {
  std::shared_ptr<Ticket> ticket;
  std::shared_ptr<const GroupRequest> group;
  int64_t slot = 0;
  SeqRng rng;
  Completion out;
  size_t max_stop_bytes = 0;
};

Engine::Engine(models::CausalLM& model, EngineOptions options)
    : model_(model), options_(std::move(options)) {
  GRPO_ENSURE(options_.max_batch_seqs >= 1, "rollout.max_batch_seqs must be >= 1, got ",
              options_.max_batch_seqs);
  vocab_ = model_.lm_head_weight().size(0);
  running_.resize(options_.max_batch_seqs);
}

Engine::~Engine() = default;

uint64_t Engine::submit(std::vector<GroupRequest> groups, Sink sink, ErrorSink on_error) {
  for (const auto& g : groups) {
    GRPO_ENSURE(!g.prompt.empty(), "prompt ", g.prompt_index, " is empty");
    GRPO_ENSURE(g.group_size >= 1, "group_size must be >= 1, got ", g.group_size);
    GRPO_ENSURE(g.params != nullptr, "prompt ", g.prompt_index, " has no sampling settings");
    g.params->validate();
    GRPO_ENSURE(g.params->stop.empty() || options_.decode,
                "stop strings need a tokenizer to decode completions (none given)");
    for (size_t i = 0; i < g.prompt.size(); ++i) {
      GRPO_ENSURE(g.prompt[i] >= 0 && g.prompt[i] < vocab_, "prompt ", g.prompt_index,
                  " token ", i, " has id ", g.prompt[i], " outside the vocabulary [0, ", vocab_,
                  ")");
    }
    for (int64_t e : g.params->eos_ids)
      GRPO_ENSURE(e >= 0 && e < vocab_, "eos id ", e, " outside the vocabulary [0, ", vocab_, ")");
  }
  auto t = std::make_shared<Ticket>();
  t->sink = std::move(sink);
  t->on_error = std::move(on_error);
  std::lock_guard<std::mutex> lock(mu_);
  t->id = next_ticket_++;
  tickets_.push_back(t);
  for (auto& g : groups)
    waiting_.push_back({t, std::make_shared<const GroupRequest>(std::move(g)), 0});
  return t->id;
}

void Engine::cancel(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_.push_back(ticket);
}

void Engine::set_admission_paused(bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = paused;
  // A pause comes before a weight update: a prompt staged under the old weights must be
  // prefilled again.
  if (paused) drop_staged_ = true;
}

void Engine::drop_staged() {
  if (staged_group_ && cache_) cache_->reset(options_.max_batch_seqs);
  staged_group_.reset();
  staged_logits_ = at::Tensor();
}

int64_t Engine::num_running() const { return n_running_.load(); }

int64_t Engine::num_waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& w : waiting_) n += w.group->group_size - w.next_sample;
  return n;
}

void Engine::ensure_cache(int64_t need_len) {
  if (cache_ && cache_len_ >= need_len) return;
  GRPO_CHECK(n_running_.load() == 0, "cache regrown with running sequences");
  int64_t len = std::max<int64_t>({need_len, 2 * cache_len_, 64});
  drop_staged();
  cache_.reset();
  // One slot more than the batch: the staging slot that keeps a partially admitted group's
  // prefilled prompt for its samples still waiting.
  cache_ = model_.make_cache(options_.max_batch_seqs + 1, len);
  cache_len_ = len;
}

void Engine::finish(Seq& s, FinishReason r) {
  s.out.finish = r;
  if (!s.ticket->dead && s.ticket->sink) s.ticket->sink(std::move(s.out));
  cache_->reset(s.slot);
  running_[s.slot].reset();
  n_running_.fetch_sub(1);
}

bool Engine::check_stop(Seq& s, int64_t token) {
  const SamplingParams& p = *s.group->params;
  s.out.tokens.push_back(static_cast<int32_t>(token));
  if (std::find(p.eos_ids.begin(), p.eos_ids.end(), token) != p.eos_ids.end()) {
    finish(s, FinishReason::kEos);
    return true;
  }
  if (!p.stop.empty()) {
    // Every token decodes to at least one byte (or to U+FFFD), so the last
    // max_stop_bytes + 1 tokens cover any stop string that the new token completes.
    size_t n = std::min(s.out.tokens.size(), s.max_stop_bytes + 1);
    std::string tail = options_.decode(
        std::span<const int32_t>(s.out.tokens.data() + s.out.tokens.size() - n, n));
    for (const auto& stop : p.stop) {
      if (tail.find(stop) != std::string::npos) {
        finish(s, FinishReason::kStop);
        return true;
      }
    }
  }
  if (static_cast<int64_t>(s.out.tokens.size()) >= p.max_new_tokens) {
    finish(s, FinishReason::kLength);
    return true;
  }
  return false;
}

bool Engine::admit() {
  bool admitted = false;
  std::unique_lock<std::mutex> lock(mu_);
  if (paused_) return false;
  // Static batching admits only into an empty batch (then fills it).
  if (!options_.continuous && n_running_.load() > 0) return false;
  if (drop_staged_) {
    drop_staged();
    drop_staged_ = false;
  }
  while (!waiting_.empty()) {
    Waiting& w = waiting_.front();
    if (w.ticket->dead) {
      if (staged_group_ == w.group) drop_staged();
      waiting_.pop_front();
      continue;
    }
    std::vector<int64_t> free;
    for (int64_t i = 0; i < options_.max_batch_seqs; ++i)
      if (!running_[i]) free.push_back(i);
    if (free.empty()) return admitted;
    const GroupRequest& g = *w.group;
    const int64_t need = static_cast<int64_t>(g.prompt.size()) + g.params->max_new_tokens;
    if (!cache_ || cache_len_ < need) {
      if (n_running_.load() > 0) return admitted;  // regrow once the batch drains
      ensure_cache(need);
    }
    int64_t n = std::min<int64_t>(g.group_size - w.next_sample, free.size());
    auto ticket = w.ticket;
    auto group = w.group;
    int64_t first = w.next_sample;
    w.next_sample += n;
    if (w.next_sample >= g.group_size) waiting_.pop_front();
    lock.unlock();

    // Prefill once, share the prefix: with copies of the prefilled slot now, and through
    // the staging slot for samples admitted later.
    const int64_t stage = options_.max_batch_seqs;
    const bool from_stage = staged_group_ == group;
    at::Tensor logits;
    if (from_stage) {
      logits = staged_logits_;
      cache_->copy_slot(stage, free[0]);
    } else {
      drop_staged();
      const at::Device dev = model_.lm_head_weight().device();
      std::vector<int64_t> ids(g.prompt.begin(), g.prompt.end());
      at::Tensor input = at::from_blob(ids.data(), {1, static_cast<int64_t>(ids.size())},
                                       at::TensorOptions().dtype(at::kLong))
                             .to(dev);
      try {
        logits = model_.decode(*cache_, {free[0]}, input);  // [1, V]
      } catch (const std::exception& e) {
        cache_->reset(free[0]);
        lock.lock();
        ticket->dead = true;
        lock.unlock();
        if (ticket->on_error) ticket->on_error(str("prefill of prompt ", g.prompt_index, ": ", e.what()));
        lock.lock();
        continue;
      }
    }
    if (first + n < g.group_size) {
      if (!from_stage) {  // samples left for later admissions: keep the prefix
        cache_->copy_slot(free[0], stage);
        staged_group_ = group;
        staged_logits_ = logits;
      }
    } else if (from_stage) {
      drop_staged();  // the group's last samples are in
    }
    size_t max_stop = 0;
    for (const auto& s : g.params->stop) max_stop = std::max(max_stop, s.size());
    std::vector<Seq*> seqs;
    for (int64_t j = 0; j < n; ++j) {
      if (j > 0) cache_->copy_slot(free[0], free[j]);
      auto s = std::make_unique<Seq>();
      s->ticket = ticket;
      s->group = group;
      s->slot = free[j];
      s->rng = SeqRng(g.params->seed, g.prompt_index, first + j);
      s->out.prompt_index = g.prompt_index;
      s->out.sample_index = first + j;
      s->max_stop_bytes = max_stop;
      seqs.push_back(s.get());
      running_[free[j]] = std::move(s);
      n_running_.fetch_add(1);
    }
    std::vector<const SamplingParams*> params(n, g.params.get());
    std::vector<SeqRng*> rngs;
    for (auto* s : seqs) rngs.push_back(&s->rng);
    SampleResult r = sample_tokens(logits.expand({n, logits.size(1)}), params, rngs);
    for (int64_t j = 0; j < n; ++j) {
      seqs[j]->out.logprobs.push_back(r.logprobs[j]);
      check_stop(*seqs[j], r.tokens[j]);
    }
    admitted = true;
    lock.lock();
    if (paused_) return admitted;
  }
  return admitted;
}

void Engine::fail_all(const std::string& msg) {
  std::vector<std::shared_ptr<Ticket>> hit;
  for (auto& s : running_) {
    if (!s) continue;
    hit.push_back(s->ticket);
    cache_->reset(s->slot);
    s.reset();
    n_running_.fetch_sub(1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : hit) {
    if (t->dead) continue;
    t->dead = true;
    if (t->on_error) t->on_error(msg);
  }
}

bool Engine::step() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : cancelled_)
      for (auto& t : tickets_)
        if (t->id == id) t->dead = true;
    cancelled_.clear();
    std::erase_if(tickets_, [](const std::shared_ptr<Ticket>& t) { return t.use_count() == 1; });
  }
  for (auto& s : running_) {
    if (s && s->ticket->dead) {
      cache_->reset(s->slot);
      s.reset();
      n_running_.fetch_sub(1);
    }
  }
  bool admitted = false;
  try {
    admitted = admit();
  } catch (const std::exception& e) {  // e.g. a decode callback failing in a stop check
    fail_all(str("admission failed: ", e.what()));
    return true;
  }
  if (n_running_.load() == 0) return admitted;

  std::vector<int64_t> slots, last;
  std::vector<Seq*> seqs;
  for (auto& s : running_) {
    if (!s) continue;
    seqs.push_back(s.get());
    slots.push_back(s->slot);
    last.push_back(s->out.tokens.back());
  }
  const int64_t B = static_cast<int64_t>(seqs.size());
  const at::Device dev = model_.lm_head_weight().device();
  at::Tensor input =
      at::from_blob(last.data(), {B, 1}, at::TensorOptions().dtype(at::kLong)).to(dev);
  at::Tensor logits;
  try {
    logits = model_.decode(*cache_, slots, input);  // [B, V]
  } catch (const std::exception& e) {
    fail_all(str("decode step failed: ", e.what()));
    return true;
  }
  std::vector<const SamplingParams*> params;
  std::vector<SeqRng*> rngs;
  for (auto* s : seqs) {
    params.push_back(s->group->params.get());
    rngs.push_back(&s->rng);
  }
  try {
    SampleResult r = sample_tokens(logits, params, rngs);
    for (int64_t b = 0; b < B; ++b) {
      seqs[b]->out.logprobs.push_back(r.logprobs[b]);
      check_stop(*seqs[b], r.tokens[b]);
    }
  } catch (const std::exception& e) {
    fail_all(str("sampling or stop check failed: ", e.what()));
  }
  return true;
}

std::vector<Completion> Engine::generate(std::vector<GroupRequest> groups) {
  std::vector<Completion> out;
  std::string error;
  submit(std::move(groups), [&](Completion&& c) { out.push_back(std::move(c)); },
         [&](const std::string& e) { error = e; });
  while (n_running_.load() > 0 || num_waiting() > 0) {
    bool did = step();
    GRPO_ENSURE(error.empty(), error);
    if (!did && n_running_.load() == 0 && num_waiting() > 0) {
      GRPO_ENSURE(false, "generation stalled: admission is paused");
    }
  }
  std::sort(out.begin(), out.end(), [](const Completion& a, const Completion& b) {
    return std::tie(a.prompt_index, a.sample_index) < std::tie(b.prompt_index, b.sample_index);
  });
  return out;
}

}  // namespace grpo::rollout
