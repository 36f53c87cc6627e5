// apps/cmd_tokenize.cpp: `grpo tokenize`: JSON lines {"text": ...} on stdin become
// {"ids": [...]} lines on stdout (or, with --decode, {"ids": [...]} become {"text": ...}).
// One output line per input line, so outputs stay aligned with inputs: a bad line gives
// {"error": "..."} there, a message naming its line number on stderr, and exit status 1.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/cli.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace grpo::cmd {
namespace {

struct TokenizeArgs {
  std::string tokenizer;
  bool add_special_tokens = false;
  bool decode = false;
  bool skip_special_tokens = false;
};

void run_tokenize(const TokenizeArgs& a) {
  const tok::Tokenizer tok = tok::Tokenizer::from_file(a.tokenizer);
  std::ios::sync_with_stdio(false);
  std::string line, out;
  size_t n = 0, bad = 0, first_bad = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      std::cout << "\n";  // blank in, blank out
      continue;
    }
    try {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        throw Error(str("not valid JSON (", e.what(), ")"));
      }
      if (!a.decode) {
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
          throw Error("expected an object with a string field \"text\"");
        const auto ids = tok.encode(j["text"].get_ref<const std::string&>(), a.add_special_tokens);
        out.assign("{\"ids\": [");
        for (size_t i = 0; i < ids.size(); ++i) {
          if (i) out += ", ";
          out += std::to_string(ids[i]);
        }
        out += "]}\n";
        std::cout << out;
      } else {
        if (!j.is_object() || !j.contains("ids") || !j["ids"].is_array())
          throw Error("expected an object with an array field \"ids\"");
        std::vector<int32_t> ids;
        for (const auto& v : j["ids"]) {
          if (!v.is_number_integer()) throw Error("\"ids\" must hold integers");
          ids.push_back(v.get<int32_t>());
        }
        std::cout << nlohmann::json{{"text", tok.decode(ids, a.skip_special_tokens)}}.dump()
                  << "\n";
      }
    } catch (const Error& e) {
      if (bad++ == 0) first_bad = n;
      std::cerr << "grpo tokenize: stdin line " << n << ": " << e.what() << "\n";
      std::cout << nlohmann::json{{"error", str("line ", n, ": ", e.what())}}.dump() << "\n";
    }
  }
  std::cout.flush();
  if (bad)
    throw Error(
        str("tokenize: ", bad, " of ", n, " input lines were bad (first: line ", first_bad, ")"));
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* sub = app.add_subcommand(
      "tokenize", "encode JSON lines {\"text\"} from stdin to {\"ids\"} with a tokenizer.json");
  sub->add_option("--tokenizer", a->tokenizer, "tokenizer.json or the folder holding it")
      ->required();
  sub->add_flag("--add-special-tokens", a->add_special_tokens,
                "add bos/eos as the tokenizer's config asks");
  sub->add_flag("--decode", a->decode, "the reverse: {\"ids\"} lines to {\"text\"} lines");
  sub->add_flag("--skip-special-tokens", a->skip_special_tokens,
                "with --decode: leave special tokens out of the text");
  sub->callback([a] { run_tokenize(*a); });
}

}  // namespace grpo::cmd
