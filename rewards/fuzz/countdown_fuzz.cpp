// rewards/fuzz/countdown_fuzz.cpp: libFuzzer target for the Countdown expression parser.
// Checks, beyond "no crash / no sanitizer report": a successful parse has at least one
// number and a finite value; a failed one says why and keeps no numbers; parsing is
// deterministic.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rewards/countdown_expr.h"

using namespace grpo::rewards;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  CountdownExpr e = parse_countdown_expression(s);
  if (e.ok) {
    if (e.numbers.empty() || !std::isfinite(e.value)) std::abort();
  } else {
    if (e.error.empty() || !e.numbers.empty()) std::abort();
  }
  CountdownExpr again = parse_countdown_expression(s);
  if (again.ok != e.ok || (e.ok && again.value != e.value)) std::abort();
  return 0;
}
