// rewards/builtins.cpp: the built-in rewards (format, accuracy, countdown, length,
// repetition) as Reward classes over the pure rules (rules.cpp, math_answer.cpp,
// countdown_expr.cpp), and their registration.
// Each class reads and validates its args once at construction and is immutable after,
// hence thread-safe.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <unordered_set>

#include "rewards/args.h"
#include "rewards/builtin_registry.h"
#include "rewards/countdown_expr.h"
#include "rewards/math_answer.h"
#include "rewards/math_equiv.h"
#include "rewards/reward.h"
#include "rewards/rules.h"

namespace grpo::rewards {

namespace {
// Details may quote model text: keep it short.
std::string excerpt(std::string_view s, size_t max = 200) {
  return std::string(s.substr(0, max)) + (s.size() > max ? "..." : "");
}
}  // namespace

// ---------------------------------------------------------------------------------------
// Reward classes.

namespace {

class FormatReward final : public Reward {
 public:
  explicit FormatReward(const Json& args) {
    detail::Args a("format", args);
    think_in_prompt_ = a.get_bool("think_in_prompt", false);
    a.finish();
  }
  RewardResult score(const Sample& s) const override {
    std::string why = think_in_prompt_ ? r1_format_violation("<think>" + s.completion)
                                       : r1_format_violation(s.completion);
    RewardResult r;
    r.score = why.empty() ? 1.0 : 0.0;
    if (!why.empty()) r.details = Json{{"violation", why}};
    return r;
  }

 private:
  bool think_in_prompt_ = false;
};

// The reference answer as text: a string, or a JSON number written out ("0.1", "1e-05").
std::optional<std::string> ground_truth_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float() && std::isfinite(v.get<double>())) return v.dump();
  return std::nullopt;
}

class AccuracyReward final : public Reward {
 public:
  explicit AccuracyReward(const Json& args) {
    detail::Args a("accuracy", args);
    answer_key_ = a.get_string("answer_key", "answer");
    (void)a.get_bool("text_fallback", true);  // old configs: the text fallback is always on
    options_.rel_tol = a.get_double("rel_tol", options_.rel_tol);
    GRPO_ENSURE(options_.rel_tol > 0 && options_.rel_tol < 1, a.where("rel_tol"),
                " must be in (0, 1), got ", options_.rel_tol);
    options_.points = static_cast<int>(a.get_int("points", options_.points, 1, 64));
    unanchored_ = a.get_bool("unanchored", false);
    a.finish();
  }
  RewardResult score(const Sample& s) const override {
    const Json& gt = s.ground_truth;
    if (!gt.is_object() || !gt.contains(answer_key_)) {
      return RewardResult::data_error(grpo::str("ground truth has no '", answer_key_, "'"));
    }
    std::optional<std::string> want = ground_truth_text(gt[answer_key_]);
    if (!want || normalize_answer_text(*want).empty()) {
      return RewardResult::data_error(grpo::str("ground truth ", answer_key_, " ",
                                                excerpt(gt[answer_key_].dump(), 80),
                                                " is not a usable answer"));
    }
    RewardResult r;
    std::optional<std::string> got = extract_math_answer(s.completion, unanchored_);
    if (!got) {
      r.details = Json{{"reason", "no answer"}};
      return r;
    }
    MathVerdict v = math_equivalent(*got, *want, options_);
    r.score = v.equal ? 1.0 : 0.0;
    r.details = Json{{"extracted", excerpt(*got)}, {"method", v.method}};
    return r;
  }

 private:
  std::string answer_key_;
  MathCheckOptions options_;
  bool unanchored_ = false;
};

class CountdownReward final : public Reward {
 public:
  explicit CountdownReward(const Json& args) {
    detail::Args a("countdown", args);
    score_ = a.get_double("score", 1.0);
    format_score_ = a.get_double("format_score", 0.0);
    max_depth_ = static_cast<int>(a.get_int("max_depth", 64, 1, 1000));
    a.finish();
  }
  RewardResult score(const Sample& s) const override {
    const Json& gt = s.ground_truth;
    if (!gt.is_object() || !gt.contains("nums") || !gt["nums"].is_array() ||
        !gt.contains("target") || !gt["target"].is_number()) {
      return RewardResult::data_error(
          "countdown ground truth needs 'nums' (array) and 'target' (number)");
    }
    std::vector<int64_t> nums;
    for (const auto& n : gt["nums"]) {
      if (!n.is_number_integer() || n.get<int64_t>() < 0) {
        return RewardResult::data_error(
            grpo::str("countdown 'nums' holds ", n.dump(), ", not a non-negative integer"));
      }
      nums.push_back(n.get<int64_t>());
    }
    double target = gt["target"].get<double>();
    RewardResult r;
    std::optional<std::string_view> block = last_answer_block(answer_region(s.completion));
    if (!block) {
      r.details = Json{{"reason", "no answer block"}};
      return r;
    }
    CountdownExpr e = parse_countdown_expression(*block, max_depth_);
    if (!e.ok) {
      r.details = Json{{"reason", e.error}};
      return r;
    }
    std::vector<int64_t> used = e.numbers;
    std::sort(used.begin(), used.end());
    std::sort(nums.begin(), nums.end());
    r.details = Json{{"value", e.value}};
    if (used != nums) {
      r.score = format_score_;
      r.details["reason"] = "numbers not used exactly once each";
    } else if (std::abs(e.value - target) >= 1e-5 || (e.rhs && std::abs(*e.rhs - target) >= 1e-5)) {
      r.score = format_score_;
      r.details["reason"] = "wrong value";
    } else {
      r.score = score_;
    }
    return r;
  }

 private:
  double score_ = 1.0;
  double format_score_ = 0.0;
  int max_depth_ = 64;
};

class LengthReward final : public Reward {
 public:
  explicit LengthReward(const Json& args) {
    detail::Args a("length", args);
    p_.min_value_wrong = a.get_double("min_value_wrong", p_.min_value_wrong);
    p_.max_value_wrong = a.get_double("max_value_wrong", p_.max_value_wrong);
    p_.min_value_correct = a.get_double("min_value_correct", p_.min_value_correct);
    p_.max_value_correct = a.get_double("max_value_correct", p_.max_value_correct);
    p_.max_len = a.get_double("max_len", p_.max_len);
    GRPO_ENSURE(p_.max_len > 0, a.where("max_len"), " must be > 0");
    std::string correctness = a.get_string("correctness", "accuracy");
    GRPO_ENSURE(correctness != "length", a.where("correctness"), " cannot be 'length'");
    correctness_ = make_reward(correctness, a.get_json("correctness_args", Json::object()));
    a.finish();
  }
  RewardResult score(const Sample& s) const override {
    RewardResult c = correctness_->score(s);
    if (c.status != RewardResult::Status::kOk) return c;
    bool correct = c.score >= 1.0 - 1e-9;
    double len = static_cast<double>(utf8_length(s.completion));
    RewardResult r;
    r.score = cosine_length_reward(len, correct, p_);
    r.details = Json{{"length", len}, {"correct", correct}};
    return r;
  }

 private:
  CosineLengthParams p_;
  std::unique_ptr<Reward> correctness_;
};

class RepetitionReward final : public Reward {
 public:
  explicit RepetitionReward(const Json& args) {
    detail::Args a("repetition", args);
    ngram_size_ = static_cast<size_t>(a.get_int("ngram_size", 3, 1, 64));
    max_penalty_ = a.get_double("max_penalty", -1.0);
    GRPO_ENSURE(max_penalty_ <= 0, a.where("max_penalty"), " must be <= 0, got ", max_penalty_);
    a.finish();
  }
  RewardResult score(const Sample& s) const override {
    RewardResult r;
    r.score = repetition_penalty(s.completion, ngram_size_, max_penalty_);
    return r;
  }

 private:
  size_t ngram_size_ = 3;
  double max_penalty_ = -1.0;
};

}  // namespace

namespace detail {
// Called once by the registry (rewards/reward.cpp) before its first use.
void register_builtin_rewards(const AddReward& add) {
  add("format", [](const Json& a) { return std::make_unique<FormatReward>(a); });
  add("accuracy", [](const Json& a) { return std::make_unique<AccuracyReward>(a); });
  add("countdown", [](const Json& a) { return std::make_unique<CountdownReward>(a); });
  add("length", [](const Json& a) { return std::make_unique<LengthReward>(a); });
  add("repetition", [](const Json& a) { return std::make_unique<RepetitionReward>(a); });
}
}  // namespace detail

}  // namespace grpo::rewards
