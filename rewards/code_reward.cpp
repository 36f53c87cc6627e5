// rewards/code_reward.cpp: the `code` reward: the completion's program (its last fenced
// code block) run in the sandbox (rewards/sandbox.h) against the row's tests.
//
// Tests come from the ground truth: `tests` (tests_key) as a list of {"input", "output"}
// stdin/stdout pairs or of assert-style Python snippets, an {"inputs": [...], "outputs":
// [...]} object (APPS/TACO layout), a string of Python asserts, or any of these encoded
// as a JSON string; or, with output_key, one test: no input, the field as expected stdout
// (e.g. a task whose `answer` is what the program must print). Outputs compare after
// dropping trailing whitespace per line and trailing blank lines. Python 3 runs with -I;
// C++ is compiled once per sample (g++ when present) and the binary run per test.
// The class is immutable after construction (the sandbox is thread-safe): thread-safe.
#include "rewards/code_reward.h"

#include <algorithm>
#include <sstream>

#include "rewards/args.h"
#include "rewards/builtin_registry.h"
#include "rewards/math_answer.h"
#include "rewards/reward.h"
#include "rewards/sandbox.h"

namespace grpo::rewards {

std::optional<CodeBlock> last_code_block(std::string_view text) {
  size_t close = text.rfind("```");
  if (close == std::string_view::npos || close < 3) return std::nullopt;
  size_t open = text.rfind("```", close - 1);
  if (open == std::string_view::npos || open + 3 > close) return std::nullopt;
  std::string_view body = text.substr(open + 3, close - open - 3);
  size_t nl = body.find('\n');
  CodeBlock b;
  if (nl != std::string_view::npos) {
    std::string_view tag = body.substr(0, nl);
    if (tag.find_first_of(" \t{}()=;") == std::string_view::npos) {
      b.language.assign(tag);
      body = body.substr(nl + 1);
    }
  }
  for (char& c : b.language) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  b.code.assign(body);
  return b;
}

std::string normalize_program_output(std::string_view out) {
  std::vector<std::string> lines;
  std::string line;
  for (char c : out) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else if (c != '\r') {
      line.push_back(c);
    }
  }
  lines.push_back(line);
  std::string joined;
  for (auto& l : lines) {
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.pop_back();
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "\n" : "") + lines[i];
  return joined;
}

namespace {

std::string as_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Tests from one JSON value (see the file comment); nullopt + why when unusable.
std::optional<std::vector<CodeTest>> tests_from_json(const Json& v, std::string* why) {
  std::vector<CodeTest> out;
  if (v.is_string()) {
    Json inner = Json::parse(v.get<std::string>(), nullptr, false);
    if (!inner.is_discarded() && (inner.is_array() || inner.is_object())) {
      return tests_from_json(inner, why);
    }
    out.push_back({"", "", v.get<std::string>()});  // Python asserts
    return out;
  }
  if (v.is_object() && v.contains("inputs") && v.contains("outputs") && v["inputs"].is_array() &&
      v["outputs"].is_array() && v["inputs"].size() == v["outputs"].size()) {
    for (size_t i = 0; i < v["inputs"].size(); ++i) {
      out.push_back({as_text(v["inputs"][i]), as_text(v["outputs"][i]), ""});
    }
    return out;
  }
  if (v.is_array()) {
    for (const Json& t : v) {
      if (t.is_string()) {
        out.push_back({"", "", t.get<std::string>()});
      } else if (t.is_object() && t.contains("output")) {
        out.push_back({t.contains("input") ? as_text(t["input"]) : "", as_text(t["output"]), ""});
      } else {
        *why = "a test is neither {\"input\", \"output\"} nor a string of asserts: " +
               t.dump().substr(0, 80);
        return std::nullopt;
      }
    }
    if (!out.empty()) return out;
  }
  *why = "no usable tests in " + v.dump().substr(0, 80);
  return std::nullopt;
}

class CodeReward final : public Reward {
 public:
  explicit CodeReward(const Json& args);
  RewardResult score(const Sample& s) const override;
  size_t slots() const override { return sandbox_->slots(); }

 private:
  std::string tests_key_, output_key_, language_, python_, cxx_;
  bool all_or_nothing_ = false;
  SandboxLimits limits_;
  std::shared_ptr<Sandbox> sandbox_;

  std::optional<std::vector<CodeTest>> read_tests(const Json& gt, std::string* why) const;
  std::vector<ProgramSpec> python_specs(const std::string& code,
                                        const std::vector<CodeTest>& tests) const;
  std::optional<std::vector<ProgramSpec>> cpp_specs(const std::string& code,
                                                    const std::vector<CodeTest>& tests,
                                                    RewardResult& r) const;
};

CodeReward::CodeReward(const Json& args) {
  detail::Args a("code", args);
  tests_key_ = a.get_string("tests_key", "tests");
  output_key_ = a.get_string("output_key", "");
  language_ = a.get_string("language", "python");
  std::string mode = a.get_string("mode", "fraction");
  GRPO_ENSURE(mode == "fraction" || mode == "all", a.where("mode"),
              " must be fraction or all, got '", mode, "'");
  all_or_nothing_ = mode == "all";
  limits_.cpu_time_s = a.get_double("cpu_time_s", 2.0);
  limits_.wall_time_s = a.get_double("wall_time_s", 5.0);
  limits_.memory_bytes = static_cast<size_t>(a.get_int("memory_mb", 512, 16, 1 << 20)) << 20;
  limits_.output_bytes = static_cast<size_t>(a.get_int("output_kb", 1024, 1, 1 << 20)) << 10;
  limits_.max_processes = static_cast<int>(a.get_int("max_processes", 32, 1, 4096));
  limits_.nice = static_cast<int>(a.get_int("nice", 10, 0, 19));
  GRPO_ENSURE(limits_.cpu_time_s > 0 && limits_.wall_time_s > 0, a.where("cpu_time_s"),
              " and wall_time_s must be > 0");
  size_t slots = static_cast<size_t>(a.get_int("slots", 4, 1, 1024));
  python_ = a.get_string("python", find_python3());
  GRPO_ENSURE(!python_.empty() && python_[0] == '/', a.where("python"),
              " must be an absolute path to python3 (none found in /usr/bin)");
  cxx_ = a.get_string("cxx", "/usr/bin/g++");
  a.finish();
  sandbox_ = std::make_shared<Sandbox>(SandboxOptions{.slots = slots});
}

std::optional<std::vector<CodeTest>> CodeReward::read_tests(const Json& gt,
                                                            std::string* why) const {
  if (!gt.is_object()) {
    *why = "ground truth is not an object";
    return std::nullopt;
  }
  if (!output_key_.empty() && gt.contains(output_key_)) {
    return std::vector<CodeTest>{{"", as_text(gt[output_key_]), ""}};
  }
  if (!gt.contains(tests_key_)) {
    *why = "ground truth has no '" + tests_key_ + "'" +
           (output_key_.empty() ? "" : " nor '" + output_key_ + "'");
    return std::nullopt;
  }
  return tests_from_json(gt[tests_key_], why);
}

std::vector<ProgramSpec> CodeReward::python_specs(const std::string& code,
                                                  const std::vector<CodeTest>& tests) const {
  std::vector<ProgramSpec> specs;
  for (const CodeTest& t : tests) {
    ProgramSpec p;
    p.argv = {python_, "-I", "main.py"};
    p.files["main.py"] = {t.asserts.empty() ? code : code + "\n\n" + t.asserts, false};
    p.stdin_data = t.input;
    p.limits = limits_;
    specs.push_back(std::move(p));
  }
  return specs;
}

std::optional<std::vector<ProgramSpec>> CodeReward::cpp_specs(const std::string& code,
                                                              const std::vector<CodeTest>& tests,
                                                              RewardResult& r) const {
  ProgramSpec build;
  build.argv = {cxx_, "-O1", "-std=c++17", "-o", "prog", "main.cpp"};
  build.files["main.cpp"] = {code, false};
  build.keep = {"prog"};
  build.limits = limits_;
  build.limits.cpu_time_s = std::max(30.0, limits_.cpu_time_s);
  build.limits.wall_time_s = std::max(60.0, limits_.wall_time_s);
  build.limits.memory_bytes = std::max<size_t>(4ull << 30, limits_.memory_bytes);
  build.limits.file_bytes = std::max<size_t>(256ull << 20, limits_.file_bytes);
  ProgramResult b = sandbox_->run(build);
  if (!b.ok() || !b.kept.count("prog")) {
    r.details = Json{{"reason", "compile error"},
                     {"compiler", b.describe()},
                     {"stderr", b.stderr_data.substr(0, 300)}};
    return std::nullopt;
  }
  std::vector<ProgramSpec> specs;
  for (const CodeTest& t : tests) {
    ProgramSpec p;
    p.argv = {"./prog"};
    p.files["prog"] = {b.kept["prog"], true};
    p.stdin_data = t.input;
    p.limits = limits_;
    specs.push_back(std::move(p));
  }
  return specs;
}

RewardResult CodeReward::score(const Sample& s) const {
  std::string why;
  std::optional<std::vector<CodeTest>> tests = read_tests(s.ground_truth, &why);
  if (!tests) return RewardResult::data_error(why);
  RewardResult r;
  std::string_view region = answer_region(s.completion);
  std::optional<CodeBlock> block = last_code_block(last_answer_block(region).value_or(region));
  if (!block) block = last_code_block(region);
  if (!block) {
    r.details = Json{{"reason", "no fenced code block"}};
    return r;
  }
  std::string lang = s.ground_truth.is_object() && s.ground_truth.contains("language") &&
                             s.ground_truth["language"].is_string()
                         ? s.ground_truth["language"].get<std::string>()
                         : (block->language.empty() ? language_ : block->language);
  bool cpp = lang == "cpp" || lang == "c++" || lang == "cxx" || lang == "cc";
  if (!cpp && lang != "python" && lang != "python3" && lang != "py") {
    r.details = Json{{"reason", "unsupported language '" + lang + "'"}};
    return r;
  }
  std::optional<std::vector<ProgramSpec>> specs =
      cpp ? cpp_specs(block->code, *tests, r) : python_specs(block->code, *tests);
  if (!specs) return r;  // compile error: 0
  std::vector<ProgramResult> results = sandbox_->run_many(*specs);
  size_t passed = 0;
  std::string first_failure;
  for (size_t i = 0; i < results.size(); ++i) {
    const ProgramResult& pr = results[i];
    GRPO_ENSURE(pr.status != ProgramResult::Status::kStartFailed, "code: sandbox: ", pr.error);
    const CodeTest& t = (*tests)[i];
    bool ok = pr.ok() && (!t.asserts.empty() || normalize_program_output(pr.stdout_data) ==
                                                    normalize_program_output(t.output));
    passed += ok;
    if (!ok && first_failure.empty()) {
      first_failure = grpo::str("test ", i, ": ", pr.ok() ? "wrong output" : pr.describe());
    }
  }
  double frac = static_cast<double>(passed) / static_cast<double>(results.size());
  r.score = all_or_nothing_ ? (passed == results.size() ? 1.0 : 0.0) : frac;
  r.details =
      Json{{"passed", passed}, {"total", results.size()}, {"language", cpp ? "cpp" : "python"}};
  if (!first_failure.empty()) r.details["first_failure"] = first_failure;
  return r;
}

}  // namespace

namespace detail {
void register_code_reward(const AddReward& add) {
  add("code", [](const Json& a) { return std::make_unique<CodeReward>(a); });
}
}  // namespace detail

}  // namespace grpo::rewards
