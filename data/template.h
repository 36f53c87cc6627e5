// data/template.h: turning a task row into the prompt text the model sees.
// Design: a template is text with {field} placeholders filled from the row ({prompt},
// {nums}, {target}, {answer} or any other key; "{{" and "}}" are literal braces). Every
// task also has a derived {prompt}: a countdown row without one gets the TinyZero-style
// question built from its nums and target, so the same R1-Zero template serves both tasks.
//
// The R1-Zero template (DeepSeek-R1 paper, table 1) ends with "Assistant:" and does NOT
// end with "<think>": the model writes "<think>" itself, which is what the `format`
// reward checks by default (think_in_prompt: false). A custom template that ends with
// "<think>" must set the format reward's think_in_prompt: true.
//
// The chat template renders [system?, user] messages with the Hugging Face chat format
// of the tokenizer's family and the generation prompt: ChatML (Qwen2/2.5/3:
// "<|im_start|>role\n...<|im_end|>\n", then "<|im_start|>assistant\n") or DeepSeek
// (V3/R1: "<｜begin▁of▁sentence｜>{system}<｜User｜>...<｜Assistant｜>"). It is a minimal
// renderer of those two fixed formats, not a Jinja engine.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"

namespace grpo::tok {
class Tokenizer;
}

namespace grpo::data {

extern const char* const kR1ZeroTemplate;
// The question text a countdown row gets as {prompt} when it has none.
extern const char* const kCountdownQuestion;

enum class ChatFormat { kChatML, kDeepSeek };
// "chatml" | "deepseek" -> ChatFormat; throws grpo::Error otherwise.
ChatFormat parse_chat_format(const std::string& name);
// Picks the format from the tokenizer's special tokens ("<|im_start|>" -> ChatML,
// "<｜User｜>" -> DeepSeek). Throws grpo::Error naming the tokenizer when neither is present.
ChatFormat detect_chat_format(const tok::Tokenizer& tok);

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};
// Parses a row's "messages" array ([{"role", "content"}]); throws grpo::Error naming the
// message index and what is wrong.
std::vector<ChatMessage> parse_messages(const Json& messages);
// Renders messages in `format`; with add_generation_prompt the assistant header follows.
// The DeepSeek format puts the BOS text first; ChatML has no BOS.
std::string render_chat(const std::vector<ChatMessage>& messages, ChatFormat format,
                        bool add_generation_prompt);
// The text that closes an assistant turn in `format` ("<|im_end|>" / "<｜end▁of▁sentence｜>").
std::string chat_turn_end(ChatFormat format);

// Fills {field} placeholders of `text` from `row` (strings as is, numbers as JSON, arrays
// as "[3, 5, 7]"). Throws grpo::Error naming the field (and listing the row's keys) for a
// placeholder the row lacks, or naming the offset for an unclosed brace.
std::string fill_template(const std::string& text, const Json& row);

// Options of a prompt template (from the data: config section).
struct TemplateOptions {
  std::string name = "r1_zero";  // r1_zero | plain | chat | custom
  std::string text;              // custom: the template text
  std::string system_prompt;     // chat: optional system message
  std::string chat_format;       // chat: chatml | deepseek (empty: detect from the tokenizer)
  Json to_json() const;
  static TemplateOptions from_json(const Json& j);  // missing keys keep defaults
};

// A ready-to-use template. Immutable, thread-safe.
class PromptTemplate {
 public:
  // `tok` is needed only for chat with no chat_format (may be null otherwise). Throws
  // grpo::Error for an unknown name, a custom template without text, or a chat template
  // whose format cannot be determined.
  PromptTemplate(const TemplateOptions& options, Task task, const tok::Tokenizer* tok = nullptr);

  // The prompt for `row`. Throws grpo::Error for a missing field.
  std::string render(const Json& row) const;
  const TemplateOptions& options() const { return options_; }
  // For the chat template: the text an SFT completion must end with (the turn end);
  // "" otherwise (the tokenizer's EOS id ends the completion).
  std::string completion_suffix() const;

 private:
  TemplateOptions options_;
  Task task_;
  ChatFormat chat_ = ChatFormat::kChatML;
};

// The row with {prompt} derived for countdown rows that lack it.
Json with_question(Task task, const Json& row);

}  // namespace grpo::data
