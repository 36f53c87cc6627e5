// core/log.cpp: stderr logger; a mutex keeps lines whole across threads.
#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

namespace grpo::log {
namespace {
Level initial_level() {
  const char* env = std::getenv("GRPO_LOG_LEVEL");
  if (!env) return Level::kInfo;
  std::string s(env);
  if (s == "debug") return Level::kDebug;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  return Level::kInfo;
}
std::atomic<int> g_level{static_cast<int>(initial_level())};
std::mutex g_mu;
std::set<std::string>* g_seen = new std::set<std::string>();
const char* name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}
}  // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }
Level level() { return static_cast<Level>(g_level.load()); }

void write(Level l, std::string_view msg) {
  if (static_cast<int>(l) < g_level.load()) return;
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "[grpo] %s: %.*s\n", name(l), static_cast<int>(msg.size()), msg.data());
  std::fflush(stderr);
}

bool once(std::string_view key, Level l, std::string_view msg) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_seen->insert(std::string(key)).second) return false;
  }
  write(l, msg);
  return true;
}

}  // namespace grpo::log
