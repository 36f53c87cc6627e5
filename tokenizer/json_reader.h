// tokenizer/json_reader.h: reads the text of a tokenizer.json in one streaming pass
// (internal to tokenizer/).
//
// Design: model.vocab and model.merges (the bulk of an 8-11 MB file, ~300k entries) go
// straight into flat vectors; everything else becomes a small nlohmann::json DOM. This
// avoids building a JSON tree of ~300k nodes, which is most of the load time of the DOM
// parser. Only the shape of vocab and merges is checked here; loader.cpp checks the rest.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpo::tok {

struct TokenizerJson {
  nlohmann::json root;                         // the file without model.vocab and model.merges
  bool has_vocab = false, has_merges = false;  // model.vocab is an object, merges an array
  std::vector<std::pair<std::string, int64_t>> vocab;       // model.vocab in file order
  std::vector<std::pair<std::string, std::string>> merges;  // model.merges in rank order
};

// Parses `text`. Merges may be "a b" strings or ["a", "b"] pairs. Throws grpo::Error
// "<origin>: <what>" for text that is not JSON, a vocab id that is not a non-negative 32-bit
// integer (naming the token), or a malformed merge (naming its index).
TokenizerJson read_tokenizer_json(std::string_view text, const std::string& origin);

}  // namespace grpo::tok
