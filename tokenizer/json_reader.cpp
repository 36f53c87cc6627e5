// tokenizer/json_reader.cpp: a SAX handler for tokenizer.json that diverts model.vocab
// and model.merges into flat vectors and builds a DOM of everything else.
#include "tokenizer/json_reader.h"

#include "core/error.h"

namespace grpo::tok {
namespace {

using json = nlohmann::json;

class TokenizerSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  TokenizerJson out;
  std::string error;  // the first structural error (field: what), or a parse error

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == kVocab) return vocab_entry(v);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == kVocab) return vocab_entry(v > INT64_MAX ? -1 : static_cast<int64_t>(v));
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == kMerges) {
      const size_t sp = v.find(' ');
      if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos)
        return fail_merge(str("\"", v, "\" must be two tokens separated by one space"));
      out.merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == kMergePair) {
      if (pair_.size() >= 2) return fail_merge("must be a string \"a b\" or a pair [\"a\", \"b\"]");
      pair_.push_back(std::move(v));
      return true;
    }
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return value(json()); }
  bool start_object(std::size_t) override {
    if (mode_ != kDom) return mode_ == kVocab ? vocab_entry(-1) : fail_merge_shape();
    if (model_ && !stack_.empty() && stack_.back() == model_ && key_ == "vocab") {
      mode_ = kVocab;
      out.has_vocab = true;
      return true;
    }
    return open(json::object());
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == kVocab) {
      mode_ = kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == kMerges) {
      mode_ = kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != kDom) return mode_ == kVocab ? vocab_entry(-1) : fail_merge_shape();
    if (model_ && !stack_.empty() && stack_.back() == model_ && key_ == "merges") {
      mode_ = kMerges;
      out.has_merges = true;
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == kMergePair) {
      if (pair_.size() != 2) return fail_merge_shape();
      out.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = kMerges;
      return true;
    }
    if (mode_ == kMerges) {
      mode_ = kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = str("not valid JSON: ", e.what());
    return false;
  }

 private:
  enum Mode { kDom, kVocab, kMerges, kMergePair };
  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX) {
      error = str("model.vocab[\"", key_, "\"]: must be a non-negative 32-bit integer id");
      return false;
    }
    out.vocab.emplace_back(std::move(key_), id);
    return true;
  }
  bool fail_merge(const std::string& what) {
    error = str("model.merges[", out.merges.size(), "]: ", what);
    return false;
  }
  bool fail_merge_shape() {
    return fail_merge("must be a string \"a b\" or a pair [\"a\", \"b\"]");
  }
  json* place(json&& v) {
    if (stack_.empty()) {
      out.root = std::move(v);
      return &out.root;
    }
    json& top = *stack_.back();
    if (top.is_object()) {
      json& slot = top[key_];
      slot = std::move(v);
      return &slot;
    }
    top.push_back(std::move(v));
    return &top.back();
  }
  bool value(json&& v) {
    if (mode_ == kVocab) return vocab_entry(-1);
    if (mode_ != kDom) return fail_merge_shape();
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    const bool is_model = stack_.size() == 1 && key_ == "model" && container.is_object();
    json* p = place(std::move(container));
    if (is_model) model_ = p;
    stack_.push_back(p);
    return true;
  }
  Mode mode_ = kDom;
  std::vector<json*> stack_;
  json* model_ = nullptr;
  std::string key_;
  std::vector<std::string> pair_;
};

}  // namespace

TokenizerJson read_tokenizer_json(std::string_view text, const std::string& origin) {
  TokenizerSax sax;
  const bool parsed = json::sax_parse(text.begin(), text.end(), &sax);
  if (!parsed || !sax.error.empty())
    throw Error(str(origin, ": ", sax.error.empty() ? "not valid JSON" : sax.error));
  return std::move(sax.out);
}

}  // namespace grpo::tok
