// core/error.h: the three tiers of failure used across grpo (see docs/style.md).
//  - GRPO_CHECK(cond, msg...): an invariant; aborts with file:line. For bugs, not input.
//  - grpo::Error: an expected failure (bad file, bad config, lost peer) with a message
//    that names what and where; the CLI turns it into a non-zero exit with that message.
//  - TORCH_CHECK at tensor APIs (in torch code only).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace grpo {

// An expected failure carrying a user-facing message. Thread-safe to throw anywhere.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// A configuration problem: message names the file, line and key.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& msg) : Error(msg) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
[[noreturn]] inline void check_failed(const char* file, int line, const char* cond,
                                      const std::string& msg) {
  std::fprintf(stderr, "grpo: invariant failed at %s:%d: %s %s\n", file, line, cond, msg.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace detail

// Builds a message from streamable parts: grpo::str("bad row ", i, " in ", path).
template <class... Args>
std::string str(Args&&... args) {
  return detail::concat(std::forward<Args>(args)...);
}

}  // namespace grpo

#define GRPO_CHECK(cond, ...)                                                        \
  do {                                                                               \
    if (!(cond)) ::grpo::detail::check_failed(__FILE__, __LINE__, #cond,             \
                                              ::grpo::detail::concat("" __VA_ARGS__)); \
  } while (0)

// Throws grpo::Error with a message built from the parts when cond is false.
#define GRPO_ENSURE(cond, ...) \
  do {                         \
    if (!(cond)) throw ::grpo::Error(::grpo::detail::concat(__VA_ARGS__)); \
  } while (0)
