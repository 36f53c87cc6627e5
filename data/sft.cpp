// data/sft.cpp: SFT example loading, packing and shifted targets (see sft.h).
#include "data/sft.h"

#include <fstream>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace grpo::data {

std::vector<SftExample> load_sft_examples(const std::string& path, const PromptTemplate& tmpl,
                                          const tok::Tokenizer& tok, ChatFormat chat) {
  std::ifstream in(path);
  GRPO_ENSURE(in.good(), "cannot open SFT file '", path, "'");
  std::vector<SftExample> out;
  std::string line;
  int64_t lineno = 0;
  auto eos = tok.eos_id();
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    Json row;
    try {
      row = Json::parse(line);
    } catch (const Json::parse_error& e) {
      throw Error(str(path, ":", lineno, ": malformed JSON: ", e.what()));
    }
    GRPO_ENSURE(row.is_object(), path, ":", lineno, ": expected a JSON object");
    std::string prompt, completion;
    bool add_eos = true;
    try {
      if (row.contains("messages")) {
        std::vector<ChatMessage> msgs = parse_messages(row["messages"]);
        GRPO_ENSURE(msgs.back().role == "assistant", "the last message must be the assistant's");
        ChatMessage last = msgs.back();
        msgs.pop_back();
        prompt = render_chat(msgs, chat, true);
        completion = last.content + chat_turn_end(chat);
        add_eos = false;  // the turn end closes the completion
      } else {
        GRPO_ENSURE(row.contains("completion") && row["completion"].is_string(),
                    "row needs a string \"completion\" (or \"messages\")");
        GRPO_ENSURE(row.contains("prompt") || row.contains("nums"),
                    "row needs \"prompt\" (or countdown \"nums\"/\"target\")");
        prompt = tmpl.render(row);
        completion = row["completion"].get<std::string>() + tmpl.completion_suffix();
        add_eos = tmpl.completion_suffix().empty();
      }
    } catch (const Error& e) {
      throw Error(str(path, ":", lineno, ": ", e.what()));
    }
    SftExample ex;
    ex.prompt = tok.encode(prompt, /*add_special_tokens=*/true);
    ex.completion = tok.encode(completion, false);
    if (add_eos && eos) ex.completion.push_back(*eos);
    GRPO_ENSURE(!ex.completion.empty(), path, ":", lineno, ": empty completion");
    out.push_back(std::move(ex));
  }
  GRPO_ENSURE(!out.empty(), "SFT file '", path, "' has no rows");
  return out;
}

std::vector<PackedSeq> pack_examples(const std::vector<SftExample>& examples, int64_t max_seq_length,
                                     bool packing, int64_t* dropped) {
  GRPO_ENSURE(max_seq_length > 0, "max_seq_length must be > 0");
  std::vector<PackedSeq> out;
  int64_t n_dropped = 0;
  PackedSeq cur;
  int32_t seg = 0;
  auto flush = [&] {
    if (!cur.ids.empty()) out.push_back(std::move(cur));
    cur = PackedSeq{};
    seg = 0;
  };
  for (const auto& ex : examples) {
    int64_t len = static_cast<int64_t>(ex.prompt.size() + ex.completion.size());
    if (len > max_seq_length) {
      ++n_dropped;
      continue;
    }
    if (!packing || static_cast<int64_t>(cur.ids.size()) + len > max_seq_length) flush();
    int32_t pos = 0;
    for (int32_t id : ex.prompt) {
      cur.ids.push_back(id);
      cur.position_ids.push_back(pos++);
      cur.segment.push_back(seg);
      cur.loss_mask.push_back(0);
    }
    for (int32_t id : ex.completion) {
      cur.ids.push_back(id);
      cur.position_ids.push_back(pos++);
      cur.segment.push_back(seg);
      cur.loss_mask.push_back(1);
    }
    ++seg;
  }
  flush();
  if (dropped) *dropped = n_dropped;
  return out;
}

std::vector<int64_t> shifted_targets(const PackedSeq& seq, int64_t shift) {
  GRPO_ENSURE(shift >= 1, "shift must be >= 1");
  size_t n = seq.size();
  std::vector<int64_t> t(n, -100);
  for (size_t i = 0; i + shift < n; ++i) {
    size_t j = i + static_cast<size_t>(shift);
    if (seq.segment[j] == seq.segment[i] && seq.loss_mask[j]) t[i] = seq.ids[j];
  }
  return t;
}

}  // namespace grpo::data
