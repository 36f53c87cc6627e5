// apps/cmd_train_tokenizer.cpp: `grpo train-tokenizer`: learns a byte-level BPE from text
// files and writes DIR/tokenizer.json (loadable by HF `tokenizers`) and
// DIR/tokenizer_config.json (bos/eos/pad). Deterministic for the same files and options.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "core/error.h"
#include "core/fs.h"
#include "tokenizer/tokenizer.h"

namespace grpo::cmd {
namespace {

struct TrainTokenizerArgs {
  int vocab_size = 0;
  int min_frequency = 2;
  std::string output;
  std::vector<std::string> special_tokens;
  std::string bos_token, eos_token, pad_token;
  std::vector<std::string> files;
  bool split_digits = false;
};

void run_train_tokenizer(const TrainTokenizerArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const std::string& f : a.files) {
    texts.push_back(fs::read_file(f));
    bytes += texts.back().size();
  }
  auto check_special = [&](const std::string& name, const std::string& v) {
    if (v.empty()) return;
    if (std::find(a.special_tokens.begin(), a.special_tokens.end(), v) == a.special_tokens.end())
      throw Error(str("train-tokenizer: --", name, " ", v, " is not one of --special-tokens"));
  };
  check_special("bos-token", a.bos_token);
  check_special("eos-token", a.eos_token);
  check_special("pad-token", a.pad_token);

  tok::BpeTrainOptions o;
  o.vocab_size = a.vocab_size;
  o.min_frequency = a.min_frequency;
  o.special_tokens = a.special_tokens;
  o.show_progress = true;
  o.split_digits = a.split_digits;
  const std::string json = tok::train_bpe(texts, o);

  // Defaults: <|endoftext|> (when given) ends and pads sequences, as in GPT-2 and Qwen.
  std::string eos = a.eos_token, pad = a.pad_token;
  const bool has_eot = std::find(a.special_tokens.begin(), a.special_tokens.end(),
                                 "<|endoftext|>") != a.special_tokens.end();
  if (eos.empty() && has_eot) eos = "<|endoftext|>";
  if (pad.empty()) pad = eos;
  using ojson = nlohmann::ordered_json;
  auto tok_or_null = [](const std::string& v) { return v.empty() ? ojson() : ojson(v); };
  ojson cfg = {{"tokenizer_class", "PreTrainedTokenizerFast"},
               {"add_bos_token", false},
               {"add_eos_token", false},
               {"bos_token", tok_or_null(a.bos_token)},
               {"eos_token", tok_or_null(eos)},
               {"pad_token", tok_or_null(pad)},
               {"unk_token", nullptr},
               {"clean_up_tokenization_spaces", false},
               {"model_max_length", 1000000000}};
  std::filesystem::create_directories(a.output);
  const std::string tok_path = (std::filesystem::path(a.output) / "tokenizer.json").string();
  const std::string cfg_path = (std::filesystem::path(a.output) / "tokenizer_config.json").string();
  fs::write_atomic(tok_path, json);
  fs::write_atomic(cfg_path, cfg.dump(2) + "\n");

  const tok::Tokenizer tok = tok::Tokenizer::from_file(a.output);  // proves the file loads
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "train-tokenizer: " << a.files.size() << " file(s), " << bytes << " bytes -> "
            << tok.vocab_size() << " tokens (" << a.special_tokens.size() << " special) in " << s
            << " s; wrote " << tok_path << " and " << cfg_path << "\n";
  if (tok.vocab_size() < a.vocab_size)
    std::cout << "train-tokenizer: note: stopped below --vocab-size " << a.vocab_size
              << ": no pair left that occurs --min-frequency " << a.min_frequency << " times\n";
}

}  // namespace

void register_train_tokenizer(CLI::App& app) {
  auto a = std::make_shared<TrainTokenizerArgs>();
  auto* sub = app.add_subcommand("train-tokenizer",
                                 "learn a byte-level BPE tokenizer.json from text files");
  sub->add_option("--vocab-size", a->vocab_size,
                  "vocabulary size incl. the 256 byte tokens and the special tokens")
      ->required()
      ->check(CLI::PositiveNumber);
  sub->add_option("--output", a->output, "folder to write tokenizer.json into")->required();
  sub->add_option("--special-tokens", a->special_tokens,
                  "special tokens (ids 0..k-1), comma-separated or repeated")
      ->delimiter(',')
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--min-frequency", a->min_frequency, "merge only pairs seen this often")
      ->check(CLI::PositiveNumber);
  sub->add_option("--bos-token", a->bos_token, "bos_token in tokenizer_config.json");
  sub->add_option("--eos-token", a->eos_token,
                  "eos_token in tokenizer_config.json (default <|endoftext|> when given)");
  sub->add_option("--pad-token", a->pad_token, "pad_token (default: the eos token)");
  sub->add_flag("--split-digits", a->split_digits,
                "one token per digit (Split \" ?\\p{N}\" before ByteLevel), for arithmetic");
  sub->add_option("files", a->files, "UTF-8 text files")->required()->check(CLI::ExistingFile);
  sub->callback([a] { run_train_tokenizer(*a); });
}

}  // namespace grpo::cmd
