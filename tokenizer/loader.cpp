// tokenizer/loader.cpp: tokenizer.json (+ tokenizer_config.json) -> Tokenizer::Impl.
//
// Design: json_reader.cpp streams the file (vocab and merges into flat vectors, the rest
// into a small DOM); a Loader then reads each component into its description in Impl
// (model, added tokens, normalizer, pre-tokenizer steps, post-processor ids, decoder),
// refusing anything unsupported with "<file>: <field>: <what>", and finally the dense
// id-indexed tables and the tokenizer_config.json special ids are filled in. The format is
// that of Hugging Face `tokenizers` (tokenizer.json as its Rust serde writes it).
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "tokenizer/impl.h"
#include "tokenizer/json_reader.h"

namespace grpo::tok {
namespace {

using json = nlohmann::json;

// Ids index dense tables, so a corrupt id must not size them: 16M is 60x the largest
// vocabularies in use.
constexpr int64_t kMaxId = int64_t{1} << 24;

// Field readers that throw grpo::Error "<origin>: <field>: <what>", and one reader per
// tokenizer.json component, each filling its part of Impl.
struct Loader {
  std::string origin;

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(str(origin, ": ", field, ": ", what));
  }
  const json* opt(const json& obj, const char* key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& need(const json& obj, const char* key, const std::string& field) const {
    const json* v = opt(obj, key);
    if (!v) fail(field + "." + key, "missing");
    return *v;
  }
  bool boolean(const json& obj, const char* key, const std::string& field, bool def) const {
    const json* v = opt(obj, key);
    if (!v) return def;
    if (!v->is_boolean()) fail(field + "." + key, "must be true or false");
    return v->get<bool>();
  }
  std::string string(const json& obj, const char* key, const std::string& field) const {
    const json& v = need(obj, key, field);
    if (!v.is_string()) fail(field + "." + key, "must be a string");
    return v.get<std::string>();
  }
  int32_t id(const json& v, const std::string& field) const {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxId)
      fail(field, str("must be an integer id in [0, ", kMaxId, ")"));
    return static_cast<int32_t>(v.get<int64_t>());
  }
  std::string type(const json& v, const std::string& field) const {
    if (!v.is_object()) fail(field, "must be an object");
    return string(v, "type", field);
  }
  // The items of the array `key` of `obj`, each with its field name "<field>.<key>[i]".
  template <class F>
  void each(const json& obj, const char* key, const std::string& field, F&& f) const {
    const json& list = need(obj, key, field);
    if (!list.is_array()) fail(field + "." + key, "must be an array");
    for (size_t i = 0; i < list.size(); ++i) f(list[i], str(field, ".", key, "[", i, "]"));
  }

  void model(const json& root, TokenizerJson& file, Tokenizer::Impl& t) const;
  void model_options(const json& m, Tokenizer::Impl& t) const;
  void model_vocab(std::vector<std::pair<std::string, int64_t>>& vocab, Tokenizer::Impl& t) const;
  void model_merges(const json& m, const TokenizerJson& file, Tokenizer::Impl& t) const;
  void added_tokens(const json& root, Tokenizer::Impl& t) const;
  void normalizer(const json& n, const std::string& field, Tokenizer::Impl& t) const;
  Behavior behavior(const std::string& s, const std::string& field) const;
  void pre_tokenizer(const json& p, const std::string& field, Tokenizer::Impl& t,
                     bool& byte_level) const;
  void split(const json& p, const std::string& field, Tokenizer::Impl& t) const;
  void post_processor(const json& p, const std::string& field, Tokenizer::Impl& t) const;
  void template_processing(const json& p, const std::string& field, Tokenizer::Impl& t) const;
  void decoder(const json& d, const std::string& field, Tokenizer::Impl& t) const;
};

// ---------------------------------------------------------------------------------------
// Model: BPE options, vocabulary, merges.

void Loader::model(const json& root, TokenizerJson& file, Tokenizer::Impl& t) const {
  const json& m = need(root, "model", "tokenizer.json");
  if (!m.is_object()) fail("model", "must be an object");
  model_options(m, t);
  if (!file.has_vocab) {
    need(m, "vocab", "model");
    fail("model.vocab", "must be an object {token: id}");
  }
  if (!file.has_merges) {
    if (opt(m, "merges")) fail("model.merges", "must be an array");
  }
  model_vocab(file.vocab, t);
  model_merges(m, file, t);
  const auto& bl = ByteLevelMap::get();
  for (int c = 0; c < 256; ++c) t.byte_id[c] = t.vocab.get(bl.byte_to_utf8[c]);
}

// Refuses what a byte-level BPE without dropout cannot do; reads ignore_merges.
void Loader::model_options(const json& m, Tokenizer::Impl& t) const {
  if (const json* ty = opt(m, "type")) {
    if (!ty->is_string() || ty->get<std::string>() != "BPE")
      fail("model.type", str("only BPE models are supported, got ", ty->dump()));
  }
  if (const json* d = opt(m, "dropout")) {
    if (!d->is_number() || d->get<double>() != 0.0)
      fail("model.dropout", "BPE dropout is not supported (must be null)");
  }
  if (boolean(m, "byte_fallback", "model", false))
    fail("model.byte_fallback", "byte_fallback BPE is not supported");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = opt(m, k);
    if (v && (!v->is_string() || !v->get<std::string>().empty()))
      fail(str("model.", k), "must be null or empty for a byte-level BPE");
  }
  t.ignore_merges = boolean(m, "ignore_merges", "model", false);
}

// Fills vocab, id_to_tok and id_in_vocab (consumes the spellings of `vocab`).
void Loader::model_vocab(std::vector<std::pair<std::string, int64_t>>& vocab,
                         Tokenizer::Impl& t) const {
  size_t total_bytes = 0;
  for (const auto& e : vocab) total_bytes += e.first.size();
  t.vocab.reserve(vocab.size(), total_bytes);
  int32_t max_id = -1;
  for (const auto& [tokstr, id64] : vocab) max_id = std::max(max_id, static_cast<int32_t>(id64));
  if (max_id >= kMaxId)
    fail("model.vocab", str("id ", max_id, " is not below ", kMaxId, " (tables are sized by id)"));
  t.id_to_tok.assign(max_id + 1, std::string());
  t.id_in_vocab.assign(max_id + 1, 0);
  for (auto& [tokstr, id64] : vocab) {
    const auto id = static_cast<int32_t>(id64);
    if (t.id_in_vocab[id])
      fail("model.vocab", str("id ", id, " is used by two tokens (\"", t.id_to_tok[id], "\" and \"",
                              tokstr, "\")"));
    t.id_in_vocab[id] = 1;
    t.vocab.insert(tokstr, id);
    t.id_to_tok[id] = std::move(tokstr);
  }
}

// Fills the merge table (rank = index in model.merges) and unk_id; every token named must
// be in the vocabulary.
void Loader::model_merges(const json& m, const TokenizerJson& file, Tokenizer::Impl& t) const {
  auto lookup = [&](std::string_view s, auto&& field) {
    const int32_t id = t.vocab.get(s);
    if (id < 0) fail(field(), str("token \"", s, "\" is not in model.vocab"));
    return id;
  };
  if (const json* u = opt(m, "unk_token")) {
    if (!u->is_string()) fail("model.unk_token", "must be a string or null");
    t.unk_id = lookup(u->get<std::string>(), [] { return std::string("model.unk_token"); });
  }
  t.merges.reserve(file.merges.size());
  std::string ab;
  for (size_t i = 0; i < file.merges.size(); ++i) {
    const auto& [a, b] = file.merges[i];
    auto field = [i] { return str("model.merges[", i, "]"); };
    ab.assign(a).append(b);
    const int32_t ia = lookup(a, field), ib = lookup(b, field), im = lookup(ab, field);
    t.merges.put(ia, ib, {static_cast<int32_t>(i), im});
  }
}

// ---------------------------------------------------------------------------------------
// Added tokens, normalizer, pre-tokenizer.

void Loader::added_tokens(const json& root, Tokenizer::Impl& t) const {
  const json* arr = opt(root, "added_tokens");
  if (!arr) return;
  if (!arr->is_array()) fail("added_tokens", "must be an array");
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& e = (*arr)[i];
    const std::string field = str("added_tokens[", i, "]");
    if (!e.is_object()) fail(field, "must be an object");
    AddedToken a;
    a.id = id(need(e, "id", field), field + ".id");
    a.content = string(e, "content", field);
    if (a.content.empty()) fail(field + ".content", "must not be empty");
    if (find_invalid_utf8(a.content) != std::string_view::npos)
      fail(field + ".content", "is not valid UTF-8");
    a.single_word = boolean(e, "single_word", field, false);
    a.lstrip = boolean(e, "lstrip", field, false);
    a.rstrip = boolean(e, "rstrip", field, false);
    a.normalized = boolean(e, "normalized", field, !boolean(e, "special", field, false));
    a.special = boolean(e, "special", field, false);
    t.added.push_back(std::move(a));
  }
}

void Loader::normalizer(const json& n, const std::string& field, Tokenizer::Impl& t) const {
  const std::string ty = type(n, field);
  if (ty == "Sequence") {
    each(n, "normalizers", field,
         [&](const json& v, const std::string& f) { normalizer(v, f, t); });
  } else if (ty == "NFC") {
    t.normalizers.push_back(NormForm::kNFC);
  } else if (ty == "NFD") {
    t.normalizers.push_back(NormForm::kNFD);
  } else if (ty == "NFKC") {
    t.normalizers.push_back(NormForm::kNFKC);
  } else if (ty == "NFKD") {
    t.normalizers.push_back(NormForm::kNFKD);
  } else {
    fail(field + ".type",
         str("unsupported normalizer \"", ty, "\" (supported: Sequence, NFC, NFD, NFKC, NFKD)"));
  }
}

Behavior Loader::behavior(const std::string& s, const std::string& field) const {
  if (s == "Removed") return Behavior::kRemoved;
  if (s == "Isolated") return Behavior::kIsolated;
  if (s == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::kMergedWithNext;
  if (s == "Contiguous") return Behavior::kContiguous;
  fail(field, str("unknown behavior \"", s, "\""));
}

// Appends the steps of a pre-tokenizer; sets `byte_level` when a ByteLevel one is seen.
void Loader::pre_tokenizer(const json& p, const std::string& field, Tokenizer::Impl& t,
                           bool& byte_level) const {
  const std::string ty = type(p, field);
  if (ty == "Sequence") {
    each(p, "pretokenizers", field,
         [&](const json& v, const std::string& f) { pre_tokenizer(v, f, t, byte_level); });
  } else if (ty == "Split") {
    split(p, field, t);
  } else if (ty == "ByteLevel") {
    byte_level = true;
    if (boolean(p, "add_prefix_space", field, true)) {
      PreStep s;
      s.kind = PreStep::kPrefixSpace;
      t.pre.push_back(std::move(s));
    }
    if (boolean(p, "use_regex", field, true)) {
      PreStep s;
      s.re = std::make_unique<Regex>(kGpt2Pattern, false, str(origin, ": ", field));
      t.pre.push_back(std::move(s));
    }
  } else {
    fail(field + ".type",
         str("unsupported pre_tokenizer \"", ty, "\" (supported: Sequence, Split, ByteLevel)"));
  }
}

void Loader::split(const json& p, const std::string& field, Tokenizer::Impl& t) const {
  const json& pat = need(p, "pattern", field);
  const json* re = pat.is_object() ? opt(pat, "Regex") : nullptr;
  const json* lit = pat.is_object() ? opt(pat, "String") : nullptr;
  if (!(re && re->is_string()) && !(lit && lit->is_string()))
    fail(field + ".pattern", "must be {\"Regex\": \"...\"} or {\"String\": \"...\"}");
  PreStep s;
  s.re = std::make_unique<Regex>(re ? re->get<std::string>() : lit->get<std::string>(),
                                 re == nullptr, str(origin, ": ", field, ".pattern"));
  s.behavior = behavior(string(p, "behavior", field), field + ".behavior");
  s.invert = boolean(p, "invert", field, false);
  t.pre.push_back(std::move(s));
}

// ---------------------------------------------------------------------------------------
// Post-processor and decoder.

// Appends the ids a post-processor adds around a single sequence.
void Loader::post_processor(const json& p, const std::string& field, Tokenizer::Impl& t) const {
  const std::string ty = type(p, field);
  if (ty == "ByteLevel") return;  // offsets only
  if (ty == "Sequence") {
    each(p, "processors", field,
         [&](const json& v, const std::string& f) { post_processor(v, f, t); });
  } else if (ty == "TemplateProcessing") {
    template_processing(p, field, t);
  } else if (ty == "RobertaProcessing" || ty == "BertProcessing") {
    const json& cls = need(p, "cls", field);
    const json& sep = need(p, "sep", field);
    if (!cls.is_array() || cls.size() != 2 || !sep.is_array() || sep.size() != 2)
      fail(field, "cls and sep must be [token, id] pairs");
    t.prefix_ids.push_back(id(cls[1], field + ".cls"));
    t.suffix_ids.push_back(id(sep[1], field + ".sep"));
  } else {
    fail(field + ".type", str("unsupported post_processor \"", ty, "\""));
  }
}

// The `single` template: special tokens before the sequence go to prefix_ids, after it to
// suffix_ids.
void Loader::template_processing(const json& p, const std::string& field,
                                 Tokenizer::Impl& t) const {
  const json& single = need(p, "single", field);
  const json& specials = need(p, "special_tokens", field);
  if (!single.is_array()) fail(field + ".single", "must be an array");
  bool seen_a = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string f = str(field, ".single[", i, "]");
    const json& item = single[i];
    if (item.is_object() && item.contains("Sequence")) {
      seen_a = true;
    } else if (item.is_object() && item.contains("SpecialToken")) {
      const std::string name = string(item["SpecialToken"], "id", f + ".SpecialToken");
      const json* sp = opt(specials, name.c_str());
      if (!sp) fail(field + ".special_tokens", str("has no entry \"", name, "\""));
      const json& ids = need(*sp, "ids", field + ".special_tokens." + name);
      for (const json& v : ids) (seen_a ? t.suffix_ids : t.prefix_ids).push_back(id(v, f));
    } else {
      fail(f, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
}

void Loader::decoder(const json& d, const std::string& field, Tokenizer::Impl& t) const {
  const std::string ty = type(d, field);
  if (ty == "ByteLevel") return;
  if (ty == "Sequence") {
    const json& list = need(d, "decoders", field);
    if (!list.is_array() || list.size() != 1)
      fail(field + ".decoders", "only a Sequence holding one ByteLevel decoder is supported");
    decoder(list[0], field + ".decoders[0]", t);
    return;
  }
  fail(field + ".type", str("unsupported decoder \"", ty, "\" (supported: ByteLevel)"));
}

// ---------------------------------------------------------------------------------------
// After the components: dense id tables and tokenizer_config.json.

// Sizes the id-indexed tables, indexes the added tokens (content -> id, the two matchers)
// and precomputes the bytes each id decodes to.
void build_id_tables(const Loader& L, Tokenizer::Impl& t) {
  int32_t size = static_cast<int32_t>(t.id_to_tok.size());
  for (const AddedToken& a : t.added) size = std::max(size, a.id + 1);
  t.size = size;
  t.id_to_tok.resize(size);
  t.id_in_vocab.resize(size, 0);
  t.added_index.assign(size, -1);
  for (size_t i = 0; i < t.added.size(); ++i) {
    AddedToken& a = t.added[i];
    t.added_index[a.id] = static_cast<int32_t>(i);
    t.added_by_content[a.content] = a.id;
    if (a.normalized) {
      std::string content = a.content, scratch;
      for (NormForm f : t.normalizers) content = std::string(normalize(f, content, scratch));
      t.norm_matcher.add(content, static_cast<int32_t>(i));
    } else {
      t.raw_matcher.add(a.content, static_cast<int32_t>(i));
    }
  }
  for (const auto* ids : {&t.prefix_ids, &t.suffix_ids})
    for (int32_t id : *ids)
      if (id >= size) L.fail("post_processor", str("special token id ", id, " is out of range"));
  t.id_bytes.resize(size);
  for (int32_t id = 0; id < size; ++id) {
    if (t.added_index[id] >= 0)
      t.id_bytes[id] = t.added[t.added_index[id]].content;
    else if (t.id_in_vocab[id])
      t.id_bytes[id] = t.byte_level_decoder ? from_byte_level(t.id_to_tok[id]) : t.id_to_tok[id];
  }
}

// A token named in tokenizer_config.json: "text", {"content": "text"} or null.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

// tokenizer_config.json: bos/eos/pad ids, and the add_bos_token/add_eos_token policy of
// add_special_tokens, which replaces the post-processor's when either key is present.
void apply_config(std::string_view config_json, const std::string& origin, Tokenizer::Impl& t) {
  json cfg;
  const Loader C{origin + " (tokenizer_config.json)"};
  try {
    cfg = json::parse(config_json);
  } catch (const json::parse_error& e) {
    throw Error(str(C.origin, ": not valid JSON: ", e.what()));
  }
  if (!cfg.is_object()) throw Error(str(C.origin, ": must hold a JSON object"));
  auto resolve = [&](const char* key) -> std::optional<int32_t> {
    auto s = config_token(cfg, key);
    return s ? t.find_token(*s) : std::nullopt;
  };
  t.bos = resolve("bos_token");
  t.eos = resolve("eos_token");
  t.pad = resolve("pad_token");
  if (!cfg.contains("add_bos_token") && !cfg.contains("add_eos_token")) return;
  t.prefix_ids.clear();
  t.suffix_ids.clear();
  if (C.boolean(cfg, "add_bos_token", "tokenizer_config", false)) {
    if (!t.bos) C.fail("add_bos_token", "is true but bos_token is not in the vocabulary");
    t.prefix_ids.push_back(*t.bos);
  }
  if (C.boolean(cfg, "add_eos_token", "tokenizer_config", false)) {
    if (!t.eos) C.fail("add_eos_token", "is true but eos_token is not in the vocabulary");
    t.suffix_ids.push_back(*t.eos);
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, const std::string& origin,
                               std::string_view tokenizer_config_json) {
  const Loader L{origin};
  TokenizerJson file = read_tokenizer_json(tokenizer_json, origin);
  const json& root = file.root;
  if (!root.is_object()) throw Error(str(origin, ": must hold a JSON object"));
  auto t = std::make_shared<Impl>();
  t->origin = origin;
  L.model(root, file, *t);
  L.added_tokens(root, *t);
  if (const json* n = L.opt(root, "normalizer")) L.normalizer(*n, "normalizer", *t);
  bool byte_level = false;
  if (const json* p = L.opt(root, "pre_tokenizer"))
    L.pre_tokenizer(*p, "pre_tokenizer", *t, byte_level);
  if (!byte_level)
    L.fail("pre_tokenizer", "no ByteLevel pre-tokenizer: only byte-level BPE is supported");
  if (const json* p = L.opt(root, "post_processor")) L.post_processor(*p, "post_processor", *t);
  if (const json* d = L.opt(root, "decoder"))
    L.decoder(*d, "decoder", *t);
  else
    t->byte_level_decoder = false;
  build_id_tables(L, *t);
  if (!tokenizer_config_json.empty()) apply_config(tokenizer_config_json, origin, *t);
  return Tokenizer(std::move(t));
}

Tokenizer Tokenizer::from_file(const std::string& path_or_dir) {
  namespace stdfs = std::filesystem;
  stdfs::path p(path_or_dir);
  std::error_code ec;
  if (stdfs::is_directory(p, ec)) p /= "tokenizer.json";
  if (!stdfs::exists(p, ec))
    throw Error(str("tokenizer: ", p.string(),
                    " does not exist (give a tokenizer.json or the folder holding it)"));
  const std::string text = fs::read_file(p.string());
  std::string cfg;
  const stdfs::path cfg_path = p.parent_path() / "tokenizer_config.json";
  if (stdfs::exists(cfg_path, ec)) cfg = fs::read_file(cfg_path.string());
  return from_json(text, p.string(), cfg);
}

}  // namespace grpo::tok
