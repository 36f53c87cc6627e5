// data/template.cpp: placeholder filling, the R1-Zero/plain/custom templates and the
// minimal ChatML / DeepSeek chat renderer (see template.h).
#include "data/template.h"

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace grpo::data {

// DeepSeek-R1 paper (arXiv:2501.12948), table 1, verbatim; {prompt} is the question.
const char* const kR1ZeroTemplate =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: {prompt}. Assistant:";

const char* const kCountdownQuestion =
    "Using the numbers {nums}, create an equation that equals {target}. You can use basic "
    "arithmetic operations (+, -, *, /) and each number can only be used once";

namespace {
std::string value_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ", ";
      s += value_text(v[i]);
    }
    return s + "]";
  }
  return v.dump();
}
}  // namespace

std::string fill_template(const std::string& text, const Json& row) {
  std::string out;
  out.reserve(text.size() + 64);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t close = text.find('}', i + 1);
      GRPO_ENSURE(close != std::string::npos, "prompt template: '{' at offset ", i, " is never closed");
      std::string field = text.substr(i + 1, close - i - 1);
      if (!row.is_object() || !row.contains(field)) {
        std::string keys;
        if (row.is_object()) {
          for (auto it = row.begin(); it != row.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
        }
        throw Error(str("prompt template field {", field, "} is not in the row (row keys: ", keys, ")"));
      }
      out += value_text(row[field]);
      i = close;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      out += '}';
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

Json with_question(Task task, const Json& row) {
  if (task == Task::kCountdown && row.is_object() && !row.contains("prompt")) {
    Json r = row;
    r["prompt"] = fill_template(kCountdownQuestion, row);
    return r;
  }
  return row;
}

ChatFormat parse_chat_format(const std::string& name) {
  if (name == "chatml") return ChatFormat::kChatML;
  if (name == "deepseek") return ChatFormat::kDeepSeek;
  throw Error(str("unknown chat_format '", name, "' (expected chatml or deepseek)"));
}

ChatFormat detect_chat_format(const tok::Tokenizer& tok) {
  if (tok.token_to_id("<|im_start|>")) return ChatFormat::kChatML;
  if (tok.token_to_id("<｜User｜>")) return ChatFormat::kDeepSeek;
  throw Error(str("tokenizer '", tok.origin(),
                  "' has neither <|im_start|> (ChatML) nor <｜User｜> (DeepSeek): set data.chat_format"));
}

std::vector<ChatMessage> parse_messages(const Json& messages) {
  GRPO_ENSURE(messages.is_array() && !messages.empty(), "\"messages\" must be a non-empty array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    GRPO_ENSURE(m.is_object() && m.contains("role") && m["role"].is_string() &&
                    m.contains("content") && m["content"].is_string(),
                "messages[", i, "] needs string \"role\" and \"content\"");
    std::string role = m["role"];
    GRPO_ENSURE(role == "system" || role == "user" || role == "assistant", "messages[", i,
                "] has role '", role, "' (expected system, user or assistant)");
    out.push_back({role, m["content"].get<std::string>()});
  }
  return out;
}

std::string chat_turn_end(ChatFormat f) {
  return f == ChatFormat::kChatML ? "<|im_end|>" : "<｜end▁of▁sentence｜>";
}

std::string render_chat(const std::vector<ChatMessage>& messages, ChatFormat f,
                        bool add_generation_prompt) {
  std::string s;
  if (f == ChatFormat::kChatML) {
    // Qwen2.5 chat_template without tools.
    for (const auto& m : messages) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_generation_prompt) s += "<|im_start|>assistant\n";
    return s;
  }
  // DeepSeek-V3 chat_template without tools: BOS, system text, then turns.
  s = "<｜begin▁of▁sentence｜>";
  for (const auto& m : messages) {
    if (m.role == "system") s += m.content;
  }
  for (const auto& m : messages) {
    if (m.role == "user") s += "<｜User｜>" + m.content;
    if (m.role == "assistant") s += "<｜Assistant｜>" + m.content + "<｜end▁of▁sentence｜>";
  }
  if (add_generation_prompt) s += "<｜Assistant｜>";
  return s;
}

Json TemplateOptions::to_json() const {
  return Json{{"name", name}, {"text", text}, {"system_prompt", system_prompt}, {"chat_format", chat_format}};
}

TemplateOptions TemplateOptions::from_json(const Json& j) {
  TemplateOptions o;
  if (!j.is_object()) return o;
  o.name = j.value("name", o.name);
  o.text = j.value("text", o.text);
  o.system_prompt = j.value("system_prompt", o.system_prompt);
  o.chat_format = j.value("chat_format", o.chat_format);
  return o;
}

PromptTemplate::PromptTemplate(const TemplateOptions& options, Task task, const tok::Tokenizer* tok)
    : options_(options), task_(task) {
  const std::string& n = options_.name;
  if (n == "custom") {
    GRPO_ENSURE(!options_.text.empty(), "data.template is custom but data.prompt_template is empty");
  } else if (n == "chat") {
    if (!options_.chat_format.empty()) {
      chat_ = parse_chat_format(options_.chat_format);
    } else {
      GRPO_ENSURE(tok != nullptr, "the chat template needs data.chat_format or a tokenizer to detect it");
      chat_ = detect_chat_format(*tok);
      options_.chat_format = chat_ == ChatFormat::kChatML ? "chatml" : "deepseek";
    }
  } else if (n != "r1_zero" && n != "plain") {
    throw Error(str("unknown prompt template '", n, "' (expected r1_zero, plain, chat or custom)"));
  }
}

std::string PromptTemplate::render(const Json& row_in) const {
  Json row = with_question(task_, row_in);
  const std::string& n = options_.name;
  if (n == "r1_zero") return fill_template(kR1ZeroTemplate, row);
  if (n == "plain") return fill_template("{prompt}", row);
  if (n == "custom") return fill_template(options_.text, row);
  std::vector<ChatMessage> msgs;
  if (!options_.system_prompt.empty()) msgs.push_back({"system", options_.system_prompt});
  msgs.push_back({"user", fill_template("{prompt}", row)});
  return render_chat(msgs, chat_, true);
}

std::string PromptTemplate::completion_suffix() const {
  return options_.name == "chat" ? chat_turn_end(chat_) : "";
}

}  // namespace grpo::data
