// tokenizer/tokenizer.cpp: the public methods of Tokenizer: encode (UTF-8 check, the
// post-processor's special ids around the pipeline of encode.cpp), decode and lookups.
//
// Decode maps ids back to bytes (byte-level alphabet undone at load time into id_bytes),
// added tokens to their content, and repairs invalid UTF-8 with U+FFFD as HF does.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "tokenizer/impl.h"

namespace grpo::tok {

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw Error(str("tokenizer: encode: input is not valid UTF-8 at byte ", bad));
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special_tokens) out.insert(out.end(), impl_->prefix_ids.begin(), impl_->prefix_ids.end());
  impl_->encode_text(text, out);
  if (add_special_tokens) out.insert(out.end(), impl_->suffix_ids.begin(), impl_->suffix_ids.end());
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  std::string bytes;
  bool first = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= t.size || (t.added_index[id] < 0 && !t.id_in_vocab[id]))
      throw Error(str("tokenizer: decode: id ", id, " at position ", i,
                      " is not in the vocabulary of ", t.origin, " (size ", t.size, ")"));
    const int32_t ai = t.added_index[id];
    if (ai >= 0 && skip_special_tokens && t.added[ai].special) continue;
    if (!t.byte_level_decoder && !first) bytes.push_back(' ');
    bytes += t.id_bytes[id];
    first = false;
  }
  return utf8_lossy(bytes);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->find_token(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const Impl& t = *impl_;
  if (id < 0 || id >= t.size) return std::nullopt;
  if (t.added_index[id] >= 0) return t.added[t.added_index[id]].content;
  if (t.id_in_vocab[id]) return t.id_to_tok[id];
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return impl_->size; }

bool Tokenizer::is_special(int32_t id) const {
  const Impl& t = *impl_;
  return id >= 0 && id < t.size && t.added_index[id] >= 0 && t.added[t.added_index[id]].special;
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
std::optional<int32_t> Tokenizer::pad_id() const { return impl_->pad; }
const std::string& Tokenizer::origin() const { return impl_->origin; }

}  // namespace grpo::tok
