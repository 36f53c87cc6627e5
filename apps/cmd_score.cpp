// apps/cmd_score.cpp: `grpo score`: scores completions from a JSONL file with rewards.
// Each input line is an object with "completion" (string), optional "prompt" and the
// ground-truth fields the rewards read ("answer", or "nums" and "target"); the whole
// row is the ground truth. One output line per input line, so outputs stay aligned:
//   {"rewards": {"<name>": score, ...}, "total": weighted_sum}      (+ "errors": [...])
// a bad line gives {"error": "..."} and a "FILE:LINE: ..." message on stderr; a blank
// line gives a blank line. A final {"summary": {...}} line follows. Exit status 1 when
// any line was bad or had a data error (after everything was scored and printed).
// Completions are scored exactly as given: the `format` reward expects the text to start
// with <think> (the training pipeline prepends it when the prompt template ends with it;
// here use --rewards format with args via --config, or format's think_in_prompt).
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "apps/cli.h"
#include "core/error.h"
#include "rewards/reward.h"

namespace grpo::cmd {
namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;  // output keys in a stable, readable order

struct ScoreArgs {
  std::string rewards;  // "format,accuracy:2"
  std::string weights;  // "0.5,1"
  std::string data;
  size_t threads = 0;
  size_t batch = 512;
  cli::JobArgs job;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? "" : item.substr(b, e - b + 1));
  }
  return out;
}

double parse_weight(const std::string& text, const std::string& what) {
  size_t used = 0;
  double w = 0;
  try {
    w = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GRPO_ENSURE(used == text.size() && !text.empty() && std::isfinite(w), what, ": '", text,
              "' is not a number");
  return w;
}

std::vector<cfg::RewardEntry> reward_entries(const ScoreArgs& a) {
  std::vector<cfg::RewardEntry> entries;
  if (!a.rewards.empty()) {
    GRPO_ENSURE(a.job.config_path.empty() && a.job.overrides.empty(),
                "grpo score: use either --rewards or --config (with overrides), not both");
    for (const std::string& item : split(a.rewards, ',')) {
      GRPO_ENSURE(!item.empty(), "--rewards: empty reward name in '", a.rewards, "'");
      cfg::RewardEntry e;
      size_t colon = item.find(':');
      e.name = item.substr(0, colon);
      if (colon != std::string::npos)
        e.weight = parse_weight(item.substr(colon + 1), "--rewards " + e.name);
      entries.push_back(e);
    }
  } else {
    JobConfig job;
    if (!a.job.load(job)) return {};
    entries = job.rewards;
  }
  if (!a.weights.empty()) {
    auto ws = split(a.weights, ',');
    GRPO_ENSURE(ws.size() == entries.size(), "--weights: ", ws.size(), " weights for ",
                entries.size(), " rewards");
    for (size_t i = 0; i < ws.size(); ++i) entries[i].weight = parse_weight(ws[i], "--weights");
  }
  return entries;
}

// One input line waiting in the current chunk.
struct Row {
  size_t line = 0;
  std::string error;  // bad line: printed as {"error": ...}
  bool blank = false;
  size_t sample = 0;  // index into the chunk's samples
};

struct Summary {
  size_t rows = 0, scored = 0, bad = 0, rows_with_data_errors = 0;
  double total_sum = 0;
  std::vector<double> component_sums;
  std::vector<rewards::FailureCounts> failures;
};

std::string dump(const OJson& j) { return j.dump(-1, ' ', false, OJson::error_handler_t::replace); }

void flush_chunk(const rewards::RewardSet& set, std::vector<Row>& rows,
                 std::vector<rewards::Sample>& samples, const std::string& path, Summary& sum) {
  rewards::BatchScores s = set.score(std::move(samples));
  samples.clear();
  if (sum.component_sums.empty()) {
    sum.component_sums.assign(s.names.size(), 0.0);
    sum.failures.assign(s.names.size(), {});
  }
  for (size_t r = 0; r < s.names.size(); ++r) {
    sum.failures[r].thrown += s.failures[r].thrown;
    sum.failures[r].timed_out += s.failures[r].timed_out;
    sum.failures[r].nan += s.failures[r].nan;
    sum.failures[r].data_errors += s.failures[r].data_errors;
  }
  std::string out;
  for (const Row& row : rows) {
    if (row.blank) {
      out += "\n";
      continue;
    }
    if (!row.error.empty()) {
      out += dump(OJson{{"error", row.error}}) + "\n";
      continue;
    }
    size_t i = row.sample;
    OJson j;
    j["rewards"] = OJson::object();
    for (size_t r = 0; r < s.names.size(); ++r) {
      j["rewards"][s.names[r]] = s.components[r][i];
      sum.component_sums[r] += s.components[r][i];
    }
    j["total"] = s.total[i];
    if (!s.errors[i].empty()) {
      j["errors"] = s.errors[i];
      for (const auto& e : s.errors[i]) std::cerr << path << ":" << row.line << ": " << e << "\n";
    }
    if (s.data_error[i]) ++sum.rows_with_data_errors;
    sum.total_sum += s.total[i];
    ++sum.scored;
    out += dump(j) + "\n";
  }
  std::cout << out << std::flush;
  rows.clear();
}

int run_score(const ScoreArgs& a) {
  std::vector<cfg::RewardEntry> entries = reward_entries(a);
  if (entries.empty()) return 0;  // --help-config printed
  rewards::RewardSet set(entries, {.num_threads = a.threads});

  std::ifstream file;
  std::istream* in = &std::cin;
  std::string path = a.data;
  if (a.data != "-") {
    file.open(a.data, std::ios::binary);
    GRPO_ENSURE(file.good(), "grpo score: cannot open --data '", a.data, "'");
    in = &file;
  } else {
    path = "<stdin>";
  }
  std::ios::sync_with_stdio(false);
  Summary sum;
  std::vector<Row> rows;
  std::vector<rewards::Sample> samples;
  std::string line;
  size_t n = 0;
  while (std::getline(*in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Row row;
    row.line = n;
    if (line.find_first_not_of(" \t") == std::string::npos) {
      row.blank = true;
      rows.push_back(row);
      continue;
    }
    ++sum.rows;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      row.error = "not valid JSON";
    } else if (!j.is_object()) {
      row.error = "expected a JSON object";
    } else if (!j.contains("completion") || !j["completion"].is_string()) {
      row.error = "expected a string field \"completion\"";
    } else if (j.contains("prompt") && !j["prompt"].is_string()) {
      row.error = "\"prompt\" must be a string";
    }
    if (!row.error.empty()) {
      ++sum.bad;
      std::cerr << path << ":" << n << ": " << row.error << "\n";
    } else {
      rewards::Sample s;
      s.completion = j["completion"].get<std::string>();
      if (j.contains("prompt")) s.prompt = j["prompt"].get<std::string>();
      s.ground_truth = std::move(j);
      row.sample = samples.size();
      samples.push_back(std::move(s));
    }
    rows.push_back(row);
    if (samples.size() >= a.batch) flush_chunk(set, rows, samples, path, sum);
  }
  flush_chunk(set, rows, samples, path, sum);

  OJson summary;
  summary["rows"] = sum.rows;
  summary["scored"] = sum.scored;
  summary["bad_rows"] = sum.bad;
  summary["rows_with_data_errors"] = sum.rows_with_data_errors;
  summary["mean_total"] = sum.scored ? sum.total_sum / static_cast<double>(sum.scored) : 0.0;
  OJson means = OJson::object(), failures = OJson::object();
  const auto& comps = set.components();
  for (size_t r = 0; r < comps.size(); ++r) {
    double m = sum.scored && !sum.component_sums.empty()
                   ? sum.component_sums[r] / static_cast<double>(sum.scored)
                   : 0.0;
    means[comps[r].name] = m;
    const auto& f = sum.failures.empty() ? rewards::FailureCounts{} : sum.failures[r];
    failures[comps[r].name] = OJson{{"thrown", f.thrown},
                                    {"timed_out", f.timed_out},
                                    {"nan", f.nan},
                                    {"data_errors", f.data_errors}};
  }
  summary["mean"] = means;
  summary["weights"] = OJson::object();
  for (const auto& c : comps) summary["weights"][c.name] = c.weight;
  summary["failures"] = failures;
  std::cout << dump(OJson{{"summary", summary}}) << "\n" << std::flush;
  if (sum.bad || sum.rows_with_data_errors) {
    std::cerr << "grpo score: " << sum.bad << " bad line(s), " << sum.rows_with_data_errors
              << " line(s) with data errors in " << path << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void register_score(CLI::App& app) {
  auto a = std::make_shared<ScoreArgs>();
  auto* sub = app.add_subcommand("score", "score completions (JSONL) with rewards");
  sub->add_option("--rewards,-r", a->rewards,
                  "comma-separated rewards, each NAME or NAME:WEIGHT, e.g. format:0.5,accuracy "
                  "(default: the config's rewards list)");
  sub->add_option("--weights,-w", a->weights, "comma-separated weights, one per reward, in order");
  sub->add_option("--data,-d", a->data,
                  "JSONL file of {\"completion\": ..., ground truth...}; - for stdin")
      ->required();
  sub->add_option("--threads", a->threads, "scoring threads (0 = all cores)");
  sub->add_option("--batch", a->batch, "lines scored together")->check(CLI::PositiveNumber);
  a->job.add_to(sub);
  sub->callback([a] {
    int rc = run_score(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace grpo::cmd
