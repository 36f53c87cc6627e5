// tests/rewards/rules_test.cpp: the built-in rules, case by case (hand-computed) and
// against golden values from independent references (tests/rewards/make_goldens.py).
#include "rewards/rules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rewards/countdown_expr.h"
#include "rewards/math_answer.h"
#include "rewards/reward.h"

namespace grpo::rewards {
namespace {

using Json = nlohmann::json;

Json load_golden(const std::string& name) {
  std::ifstream in(std::string(GRPO_SOURCE_DIR) + "/tests/rewards/data/" + name);
  EXPECT_TRUE(in.good()) << name;
  return Json::parse(in);
}

double score_with(const std::string& reward, const Json& args, const std::string& completion,
                  const Json& truth, RewardResult::Status* status = nullptr) {
  auto r = make_reward(reward, args);
  RewardResult res = r->score(Sample{"", completion, truth});
  if (status) *status = res.status;
  return res.score;
}

bool same_value(std::string_view a, std::string_view b) {
  auto x = parse_rational(a), y = parse_rational(b);
  return x && y && rational_equal(*x, *y);
}

// --- answer extraction -------------------------------------------------------------

TEST(AnswerExtraction, TakesTheLastAnswerBlockAfterTheThinkBlock) {
  EXPECT_EQ(extract_answer("<think>a</think><answer>1</answer><answer> 2 </answer>"), " 2 ");
  EXPECT_EQ(extract_answer("no tags at all"), std::nullopt);
  EXPECT_EQ(extract_answer("<answer>7</answer>"), "7");
}

TEST(AnswerExtraction, IgnoresAnswersHiddenInTheThinkBlock) {
  EXPECT_EQ(extract_answer("<think><answer>42</answer></think> I give up"), std::nullopt);
  EXPECT_EQ(extract_answer("<think>\\boxed{42}</think><answer>41</answer>"), "41");
  EXPECT_EQ(extract_answer("<think>x</think><think>y</think><answer>3</answer>"), "3");
}

TEST(AnswerExtraction, TagsInsideTagsYieldTheInnermostLastBlock) {
  EXPECT_EQ(extract_answer("<answer><answer>5</answer></answer>"), "5");
  EXPECT_EQ(extract_answer("<answer>5</answer>6</answer>"), "5");
  EXPECT_EQ(extract_answer("<answer>5"), std::nullopt);  // never closed
  EXPECT_EQ(extract_answer("</answer><answer>"), std::nullopt);
}

TEST(AnswerExtraction, FallsBackToTheLastBoxedAndUnwrapsBoxInsideAnswer) {
  EXPECT_EQ(extract_answer("so \\boxed{1} or rather \\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");
  EXPECT_EQ(extract_answer("<answer>The answer is \\boxed{12}.</answer>"), "12");
  EXPECT_EQ(extract_answer("\\boxed{unbalanced"), std::nullopt);
  EXPECT_EQ(extract_answer("\\boxed {3}"), "3");
}

// --- exact rationals ------------------------------------------------------------------

TEST(RationalAnswer, AcceptsTheDocumentedSpellings) {
  EXPECT_TRUE(same_value("1,234,567", "1234567"));
  EXPECT_TRUE(same_value("1{,}234", "1234"));
  EXPECT_TRUE(same_value("1\\,234", "1234"));
  EXPECT_TRUE(same_value("0.5", "1/2"));
  EXPECT_TRUE(same_value(".5", "\\frac12"));
  EXPECT_TRUE(same_value("\\dfrac{3}{4}", "0.75"));
  EXPECT_TRUE(same_value("\\tfrac{6}{8}", "3/4"));
  EXPECT_TRUE(same_value("-\\frac{1}{2}", "\\frac{-1}{2}"));
  EXPECT_TRUE(same_value("\\frac{-1}{-2}", "0.5"));
  EXPECT_TRUE(
      same_value("\xE2\x88\x92"
                 "3",
                 "-3"));  // U+2212 minus
  EXPECT_TRUE(same_value("  42.  ", "42"));
  EXPECT_TRUE(same_value("\\boxed{\\boxed{7}}", "7"));
  EXPECT_TRUE(same_value("$\\frac{\\frac{1}{2}}{2}$", "0.25"));
  EXPECT_TRUE(same_value("-0", "0"));
  EXPECT_TRUE(same_value("+5", "5"));
  EXPECT_TRUE(same_value("\\(5\\)", "\\[5\\]"));
  EXPECT_TRUE(
      same_value("12345678901234567890123456789", "12,345,678,901,234,567,890,123,456,789"));
}

TEST(RationalAnswer, ComparesExactlyNotApproximately) {
  EXPECT_FALSE(same_value("0.333333333333", "1/3"));
  EXPECT_FALSE(same_value("100000000000000000001", "100000000000000000000"));
  EXPECT_FALSE(same_value("-2", "2"));
  EXPECT_FALSE(same_value("1/2", "-1/2"));
}

TEST(RationalAnswer, RejectsWhatIsNotANumber) {
  for (const char* bad :
       {"",    "abc",   "1,23",  "12,3456",   "1/0",      "\\frac{1}{0}", "--5",
        "5x",  "x = 5", "1.2.3", "\\frac{1}", "{5",       "50\\%",        "\\sqrt{2}",
        "1e5", "(1)",   ".",     "-",         "\xff\xfe", "1 2"}) {
    EXPECT_EQ(parse_rational(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_rational(std::string(kMaxAnswerBytes + 1, '1')), std::nullopt);
  EXPECT_NE(parse_rational(std::string(kMaxAnswerBytes, '1')), std::nullopt);
  // Deep \frac nesting stays bounded.
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "\\frac{";
  EXPECT_EQ(parse_rational(deep), std::nullopt);
}

TEST(RationalAnswer, BigIntegerArithmeticIsRight) {
  auto r = parse_rational("123456789012345678901234567890/10");
  ASSERT_TRUE(r);
  EXPECT_EQ(to_string(r->num), "123456789012345678901234567890");
  EXPECT_EQ(to_string(r->den), "10");
  EXPECT_TRUE(same_value("123456789012345678901234567890/10", "12345678901234567890123456789"));
}

TEST(RationalAnswer, MatchesPythonFractionsOnGoldenSpellings) {
  Json cases = load_golden("accuracy_numbers_golden.json");
  ASSERT_GT(cases.size(), 100u);
  for (const auto& c : cases) {
    std::string a = c["answer"], t = c["truth"];
    auto x = parse_rational(a), y = parse_rational(t);
    ASSERT_TRUE(x) << a;
    ASSERT_TRUE(y) << t;
    EXPECT_EQ(rational_equal(*x, *y), c["equal"].get<bool>()) << a << " vs " << t;
  }
}

// --- accuracy reward --------------------------------------------------------------------

TEST(AccuracyReward, ScoresHandComputedCases) {
  Json gt = {{"answer", "3/4"}};
  EXPECT_EQ(score_with("accuracy", {}, "<think>..</think><answer>0.75</answer>", gt), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<think>..</think><answer>\\frac{3}{4}.</answer>", gt), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<think>..</think><answer>0.7</answer>", gt), 0.0);
  EXPECT_EQ(score_with("accuracy", {}, "the result is \\boxed{\\dfrac{6}{8}}", gt), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<think><answer>3/4</answer></think>", gt), 0.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>three quarters</answer>", gt), 0.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>1,000</answer>", Json{{"answer", 1000}}), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>0.1</answer>", Json{{"answer", 0.1}}), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>-7</answer>", Json{{"answer", "\\boxed{-7}"}}),
            1.0);
}

TEST(AccuracyReward, UnusableGroundTruthIsADataErrorNeverRewarded) {
  RewardResult::Status st;
  score_with("accuracy", {}, "<answer>1</answer>", Json{{"solution", "1"}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
  score_with("accuracy", {}, "<answer>1</answer>", Json{{"answer", nullptr}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
  score_with("accuracy", {}, "<answer>1</answer>", Json{{"answer", true}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
  score_with("accuracy", {}, "<answer>1</answer>", Json{{"answer", Json::array({1})}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
  EXPECT_EQ(score_with("accuracy", {}, "<answer></answer>", Json{{"answer", " "}}, &st), 0.0);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
}

TEST(AccuracyReward, SymbolicAndWordReferencesAreValid) {
  // Issue 18: a reference that is not a plain number is compared, never a data error.
  RewardResult::Status st;
  EXPECT_EQ(
      score_with("accuracy", {}, "<answer>\\sqrt{2}</answer>", Json{{"answer", "\\sqrt{2}"}}, &st),
      1.0);
  EXPECT_EQ(st, RewardResult::Status::kOk);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>\\sqrt{8}/2</answer>",
                       Json{{"answer", "\\sqrt{2}"}}, &st),
            1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>1.4142</answer>", Json{{"answer", "\\sqrt{2}"}}),
            0.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>\\text{Monday}</answer>",
                       Json{{"answer", "Monday"}}, &st),
            1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>Tuesday</answer>", Json{{"answer", "Monday"}}),
            0.0);
  // Prose in the answer block counts by its final value; prose outside it does not.
  EXPECT_EQ(score_with("accuracy", {}, "<answer>The total is 18.</answer>", Json{{"answer", 18}}),
            1.0);
  EXPECT_EQ(score_with("accuracy", {}, "The total is 18.", Json{{"answer", 18}}), 0.0);
  EXPECT_EQ(score_with("accuracy", {{"unanchored", true}}, "Add them.\nThe total is 18.",
                       Json{{"answer", 18}}),
            1.0);
}

TEST(AccuracyReward, TextFallbackComparesNormalisedText) {
  Json args = {{"text_fallback", true}};
  Json gt = {{"answer", "\\sqrt{2}"}};
  EXPECT_EQ(score_with("accuracy", args, "<answer> $\\sqrt{ 2 }$ </answer>", gt), 1.0);
  EXPECT_EQ(score_with("accuracy", args, "<answer>\\sqrt{3}</answer>", gt), 0.0);
  // Numbers still compare as numbers.
  EXPECT_EQ(score_with("accuracy", args, "<answer>0.5</answer>", Json{{"answer", "1/2"}}), 1.0);
}

TEST(AccuracyReward, SurvivesGiantAndInvalidInput) {
  Json gt = {{"answer", "5"}};
  std::string huge(5'000'000, 'x');
  EXPECT_EQ(score_with("accuracy", {}, huge + "<answer>5</answer>", gt), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "<answer>" + std::string(100000, '9') + "</answer>", gt),
            0.0);
  // Not parseable as a whole: its last number is its final value.
  EXPECT_EQ(score_with("accuracy", {}, "\xff\xfe<answer>\xc3\x28 5</answer>", gt), 1.0);
  EXPECT_EQ(score_with("accuracy", {}, "\xff\xfe<answer>\xc3\x28 6</answer>", gt), 0.0);
  EXPECT_EQ(score_with("accuracy", {}, "\xff\xfe<answer> 5 </answer>\xc3", gt), 1.0);
  std::string many_opens;
  for (int i = 0; i < 100000; ++i) many_opens += "<answer>\\boxed{";
  EXPECT_EQ(score_with("accuracy", {}, many_opens, gt), 0.0);
}

// --- format -------------------------------------------------------------------------------

TEST(FormatReward, AcceptsExactlyOneThinkThenOneAnswer) {
  EXPECT_EQ(r1_format_violation("<think>reason</think><answer>5</answer>"), "");
  EXPECT_EQ(r1_format_violation("\n<think>\nreason\n</think>\n<answer>\n5\n</answer>\n"), "");
  EXPECT_EQ(r1_format_violation("<think></think> <answer>5</answer>"), "");
}

TEST(FormatReward, RejectsEveryDeviation) {
  for (const char* bad : {
           "reason</think><answer>5</answer>",                      // no opening <think>
           "<think>a</think>",                                      // no answer
           "<think>a</think><answer>5</answer> extra",              // text after
           "<think>a</think> so <answer>5</answer>",                // text between
           "<think>a</think><answer>5</answer><answer>6</answer>",  // two answers
           "<think>a<answer>4</answer></think><answer>5</answer>",  // answer in think
           "<think><think>a</think></think><answer>5</answer>",     // nested think
           "<think>a</think><answer>  </answer>",                   // blank answer
           "<answer>5</answer><think>a</think>",                    // wrong order
           "<think>a</think><answer>5",                             // unclosed
           "pre <think>a</think><answer>5</answer>",                // text before
           "",
       }) {
    EXPECT_NE(r1_format_violation(bad), "") << bad;
  }
}

TEST(FormatReward, ThinkInPromptPrependsTheOpeningTag) {
  Json args = {{"think_in_prompt", true}};
  EXPECT_EQ(score_with("format", args, "reason</think><answer>5</answer>", {}), 1.0);
  EXPECT_EQ(score_with("format", args, "<think>reason</think><answer>5</answer>", {}), 0.0);
  EXPECT_EQ(score_with("format", {}, "<think>reason</think><answer>5</answer>", {}), 1.0);
  EXPECT_EQ(score_with("format", {}, "reason</think><answer>5</answer>", {}), 0.0);
}

TEST(FormatReward, SurvivesGiantAndInvalidInput) {
  std::string big(5'000'000, 'x');
  EXPECT_EQ(r1_format_violation("<think>" + big + "</think><answer>1</answer>"), "");
  EXPECT_NE(r1_format_violation("<think>a</think><answer>1</answer>" + big), "");
  EXPECT_EQ(r1_format_violation("<think>\xff\xfe</think><answer>\xc3\x28</answer>"), "");
  std::string tags;
  for (int i = 0; i < 100000; ++i) tags += "<think></think>";
  EXPECT_NE(r1_format_violation(tags + "<answer>1</answer>"), "");
}

// --- countdown ------------------------------------------------------------------------------

TEST(CountdownExpression, ParsesAndEvaluatesWithPrecedence) {
  auto e = parse_countdown_expression("(25 - 3) * 2 + 10 / 4");
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_DOUBLE_EQ(e.value, 46.5);
  EXPECT_EQ(e.numbers, (std::vector<int64_t>{25, 3, 2, 10, 4}));
  e = parse_countdown_expression("8 - 3 - 2");  // left associative
  EXPECT_DOUBLE_EQ(e.value, 3);
  e = parse_countdown_expression("8 / 4 / 2");
  EXPECT_DOUBLE_EQ(e.value, 1);
  e = parse_countdown_expression(" 1 + 2 = 3 ");
  ASSERT_TRUE(e.ok);
  EXPECT_EQ(e.rhs, 3.0);
}

TEST(CountdownExpression, RejectsEverythingOutsideTheGrammar) {
  for (const char* bad : {"", "1 +", "(1 + 2", "1 + 2)", "-1 + 2", "2 ** 3", "2 ^ 3", "1.5 + 2",
                          "abs(2)", "__import__('os')", "1 + 2 = ", "1 = 2 = 3", "1 2",
                          "3 / (2 - 2)", "1234567890123456 + 1", "1 + 2; 3", "\xff"}) {
    EXPECT_FALSE(parse_countdown_expression(bad).ok) << bad;
  }
  EXPECT_EQ(parse_countdown_expression("3 / (2 - 2)").error, "division by zero");
  std::string deep = std::string(65, '(') + "1" + std::string(65, ')');
  EXPECT_FALSE(parse_countdown_expression(deep).ok);
  std::string ok64 = std::string(64, '(') + "1" + std::string(64, ')');
  EXPECT_TRUE(parse_countdown_expression(ok64).ok);
  std::string huge = std::string(1'000'000, '(');
  EXPECT_FALSE(parse_countdown_expression(huge).ok);
}

TEST(CountdownReward, FollowsTheTinyZeroRule) {
  Json gt = {{"nums", {25, 3, 2}}, {"target", 44}};
  auto s = [&](const std::string& answer, const Json& args = Json::object()) {
    return score_with("countdown", args, "<think>hm</think><answer>" + answer + "</answer>", gt);
  };
  EXPECT_EQ(s("(25 - 3) * 2"), 1.0);
  EXPECT_EQ(s("2 * (25 - 3) = 44"), 1.0);
  EXPECT_EQ(s("(25 - 3) * 2 = 45"), 0.0);     // claims a wrong right side
  EXPECT_EQ(s("25 + 3 * 2"), 0.0);            // wrong value
  EXPECT_EQ(s("(25 - 3) * 2 + 0"), 0.0);      // extra number
  EXPECT_EQ(s("25 * 2 - 6"), 0.0);            // number not given
  EXPECT_EQ(s("(25 - 3) * 2 + 2 - 2"), 0.0);  // a number used twice
  EXPECT_EQ(s("44"), 0.0);
  EXPECT_EQ(s("(25 - 3) * 2)"), 0.0);
  Json fmt = {{"format_score", 0.1}};
  EXPECT_EQ(s("25 + 3 * 2", fmt), 0.1);  // well formed, wrong
  EXPECT_EQ(s("(25 - 3) * 2", fmt), 1.0);
  EXPECT_EQ(s("25 + 3 * x", fmt), 0.0);        // not well formed
  EXPECT_EQ(s("25 / (3 - 3) * 2", fmt), 0.0);  // division by zero
  // The answer must be after the think block.
  EXPECT_EQ(score_with("countdown", {}, "<think><answer>(25 - 3) * 2</answer></think>", gt), 0.0);
  // Fractions within 1e-5.
  Json gt2 = {{"nums", {1, 3}}, {"target", 1.0 / 3.0}};
  EXPECT_EQ(score_with("countdown", {}, "<answer>1 / 3</answer>", gt2), 1.0);
}

TEST(CountdownReward, HostileAnswersScoreZeroWithoutCrashing) {
  Json gt = {{"nums", {1, 2}}, {"target", 3}};
  auto reward = make_reward("countdown", Json{{"format_score", 0.1}});
  auto s = [&](const std::string& answer) {
    return reward->score(Sample{"", "<answer>" + answer + "</answer>", gt}).score;
  };
  EXPECT_EQ(s(std::string(100000, '(') + "1 + 2" + std::string(100000, ')')), 0.0);
  EXPECT_EQ(s("1 + 2" + std::string(1'000'000, ' ')), 0.0);  // longer than 4096 bytes
  EXPECT_EQ(s("1 + 2\xff"), 0.0);
  EXPECT_EQ(s(std::string("1 +\0 2", 6)), 0.0);                    // NUL byte
  EXPECT_EQ(s("999999999999999 * 999999999999999 * 2 - 1"), 0.1);  // huge but finite: wrong
  EXPECT_EQ(s("1 + 2"), 1.0);
}

TEST(CountdownReward, BadGroundTruthIsADataError) {
  RewardResult::Status st;
  score_with("countdown", {}, "<answer>1</answer>", Json{{"nums", {1}}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
  score_with("countdown", {}, "<answer>1</answer>", Json{{"nums", {"1"}}, {"target", 1}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
}

TEST(CountdownReward, MatchesPythonEvaluationOnGoldenExpressions) {
  Json cases = load_golden("countdown_golden.json");
  ASSERT_GE(cases.size(), 300u);
  auto reward = make_reward("countdown");
  for (const auto& c : cases) {
    std::string expr = c["expression"];
    auto e = parse_countdown_expression(expr);
    ASSERT_TRUE(e.ok) << expr << ": " << e.error;
    EXPECT_NEAR(e.value, c["value"].get<double>(), 1e-9 * std::max(1.0, std::abs(e.value))) << expr;
    Sample s{"", "<think>x</think><answer>" + expr + "</answer>",
             Json{{"nums", c["nums"]}, {"target", c["target"]}}};
    EXPECT_EQ(reward->score(s).score, c["correct"].get<bool>() ? 1.0 : 0.0) << expr;
  }
}

// --- length and repetition --------------------------------------------------------------------

TEST(LengthReward, HandComputedCosineEnds) {
  CosineLengthParams p;
  p.max_len = 100;
  EXPECT_DOUBLE_EQ(cosine_length_reward(0, true, p), 1.0);
  EXPECT_DOUBLE_EQ(cosine_length_reward(100, true, p), 0.5);
  EXPECT_NEAR(cosine_length_reward(50, true, p), 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(cosine_length_reward(0, false, p), -1.0);
  EXPECT_DOUBLE_EQ(cosine_length_reward(100, false, p), -0.5);
  EXPECT_DOUBLE_EQ(cosine_length_reward(1000, false, p), -0.5);  // clamped past max_len
}

TEST(LengthReward, UsesAccuracyForCorrectnessAndCodePointsForLength) {
  Json args = {{"max_len", 100}};
  std::string right = "<answer>2</answer>";  // 18 code points
  double expect = 0.5 + 0.25 * (1 + std::cos(18.0 / 100.0 * M_PI));
  EXPECT_NEAR(score_with("length", args, right, Json{{"answer", 2}}), expect, 1e-12);
  std::string wrong = "<answer>\xc3\xa9</answer>";  // é: 2 bytes, 1 code point: 18 in all
  double expect_wrong = -0.5 + 0.5 * (-1.0 - -0.5) * (1 + std::cos(18.0 / 100.0 * M_PI));
  EXPECT_NEAR(score_with("length", args, wrong, Json{{"answer", 2}}), expect_wrong, 1e-12);
  RewardResult::Status st;
  score_with("length", args, right, Json{{"answer", nullptr}}, &st);
  EXPECT_EQ(st, RewardResult::Status::kDataError);
}

TEST(RepetitionReward, HandComputed) {
  EXPECT_DOUBLE_EQ(repetition_penalty("a b c d", 2, -1.0), 0.0);
  EXPECT_DOUBLE_EQ(repetition_penalty("a a a a a", 2, -1.0), -0.75);  // 1 unique of 4
  EXPECT_DOUBLE_EQ(repetition_penalty("A a", 1, -1.0), -0.5);         // lower-cased
  EXPECT_DOUBLE_EQ(repetition_penalty("a b", 3, -1.0), 0.0);          // fewer words than n
  EXPECT_DOUBLE_EQ(repetition_penalty("", 3, -1.0), 0.0);
}

TEST(LengthAndRepetition, MatchTrlOnGoldenCases) {
  Json cases = load_golden("length_repetition_golden.json");
  ASSERT_GT(cases.size(), 50u);
  for (const auto& c : cases) {
    std::string text = c["text"];
    if (c["kind"] == "repetition") {
      double got =
          repetition_penalty(text, c["ngram_size"].get<size_t>(), c["max_penalty"].get<double>());
      EXPECT_NEAR(got, c["expected"].get<double>(), 1e-12) << text;
    } else {
      CosineLengthParams p;
      p.max_len = c["max_len"].get<double>();
      const Json& q = c["params"];
      p.min_value_wrong = q.value("min_value_wrong", p.min_value_wrong);
      p.max_value_wrong = q.value("max_value_wrong", p.max_value_wrong);
      p.min_value_correct = q.value("min_value_correct", p.min_value_correct);
      p.max_value_correct = q.value("max_value_correct", p.max_value_correct);
      EXPECT_EQ(utf8_length(text), c["length"].get<size_t>()) << text;
      double got =
          cosine_length_reward(static_cast<double>(utf8_length(text)), c["correct"].get<bool>(), p);
      EXPECT_NEAR(got, c["expected"].get<double>(), 1e-12) << text;
    }
  }
}

TEST(RewardArgs, UnknownOrMistypedArgsNameTheRewardAndKey) {
  try {
    make_reward("format", Json{{"think_in_promt", true}});
    FAIL() << "expected an error";
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown arg 'think_in_promt'"), std::string::npos)
        << e.what();
  }
  try {
    make_reward("countdown", Json{{"format_score", "high"}});
    FAIL() << "expected an error";
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("reward 'countdown': arg 'format_score' must be a number"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(make_reward("repetition", Json{{"max_penalty", 1.0}}), grpo::Error);
  EXPECT_THROW(make_reward("plugin", Json::object()), grpo::Error);  // path required
}

}  // namespace
}  // namespace grpo::rewards
