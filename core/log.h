// core/log.h: leveled logging to stderr, thread-safe, with a once-per-key variant used
// for repeated failures (a reward that keeps timing out is logged once per kind).
#pragma once
#include <string>
#include <string_view>

namespace grpo::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets the minimum level printed (default kInfo; GRPO_LOG_LEVEL=debug|info|warn|error).
void set_level(Level level);
Level level();

// Writes "[grpo] LEVEL message" to stderr. Thread-safe.
void write(Level level, std::string_view msg);
inline void debug(std::string_view m) { write(Level::kDebug, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void warn(std::string_view m) { write(Level::kWarn, m); }
inline void error(std::string_view m) { write(Level::kError, m); }

// Logs at `level` only the first time `key` is seen in this process; returns whether
// it logged. Thread-safe.
bool once(std::string_view key, Level level, std::string_view msg);

}  // namespace grpo::log
