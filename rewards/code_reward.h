// rewards/code_reward.h: pieces of the `code` reward (rewards/code_reward.cpp) that custom
// rewards and tests use: finding the program in a completion, the test layout, and how
// outputs compare. The reward itself is created through the registry: make_reward("code").
// Pure functions; thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace grpo::rewards {

struct CodeBlock {
  std::string language;  // the fence's tag, lower-cased ("python", "cpp"); "" when none
  std::string code;
};

// The last ```-fenced block of `text`, if any.
std::optional<CodeBlock> last_code_block(std::string_view text);

// One test: stdin `input` and expected stdout `output`, or Python `asserts` appended to
// the program (passes when it exits 0).
struct CodeTest {
  std::string input, output, asserts;
};

// Output as compared: "\r" dropped, trailing spaces/tabs of each line and trailing blank
// lines removed.
std::string normalize_program_output(std::string_view out);

}  // namespace grpo::rewards
