// core/config.h: typed configuration sections read from YAML with dotted command-line
// overrides. Each section is a plain struct with defaults in code and a visit() that
// names its keys; one set of visitors (reader, writer, docs) serves every section, so a
// key has one name everywhere (YAML, CLI override, effective config, --help-config).
// Errors are grpo::ConfigError naming the file, line and key: unknown key (with a
// "did you mean"), wrong type, out-of-range value, missing required value.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace grpo::cfg {

using Json = nlohmann::json;

// Inclusive bounds unless marked open.
struct Range {
  double lo = -1e300;
  double hi = 1e300;
  bool lo_open = false;
  bool hi_open = false;
};

// What a key accepts beyond its type.
struct Opt {
  const char* doc = "";
  std::optional<Range> range;           // numbers only
  std::vector<std::string> one_of;      // strings only
  bool required = false;                // must be set in the file or an override
};

// A walk over a section's keys. Sections call field()/section()/list() in visit().
class Visitor {
 public:
  virtual ~Visitor() = default;
  virtual void field(std::string_view name, bool& v, const Opt& o) = 0;
  virtual void field(std::string_view name, int64_t& v, const Opt& o) = 0;
  virtual void field(std::string_view name, double& v, const Opt& o) = 0;
  virtual void field(std::string_view name, std::string& v, const Opt& o) = 0;
  virtual void field(std::string_view name, std::vector<std::string>& v, const Opt& o) = 0;
  virtual void field(std::string_view name, std::vector<int64_t>& v, const Opt& o) = 0;
  virtual void field(std::string_view name, std::vector<double>& v, const Opt& o) = 0;
  // Any YAML subtree, kept as JSON (for free-form arguments, e.g. a model architecture).
  virtual void field(std::string_view name, Json& v, const Opt& o) = 0;

  template <class S>
  void section(std::string_view name, S& s, const Opt& o = {}) {
    if (begin_section(name, o)) s.visit(*this);
    end_section();
  }
  template <class S>
  void list(std::string_view name, std::vector<S>& items, const Opt& o = {}) {
    int64_t n = begin_list(name, static_cast<int64_t>(items.size()), o);
    if (n >= 0) {
      if (replaces_lists()) items.assign(static_cast<size_t>(n), S{});  // a read list starts fresh
      else items.resize(static_cast<size_t>(n));
      for (size_t i = 0; i < items.size(); ++i) {
        begin_item(i);
        items[i].visit(*this);
        end_item();
      }
    }
    end_list();
  }

 protected:
  // Returns whether to visit the section's keys.
  virtual bool begin_section(std::string_view name, const Opt& o) = 0;
  virtual void end_section() = 0;
  // Returns the number of items to visit, or -1 to leave the list as it is.
  virtual int64_t begin_list(std::string_view name, int64_t current, const Opt& o) = 0;
  virtual void begin_item(size_t i) = 0;
  virtual void end_item() = 0;
  virtual void end_list() = 0;
  // True for visitors that read new values (lists are then rebuilt from defaults).
  virtual bool replaces_lists() const { return false; }
};

// Root-level helpers, for any struct S with `void visit(Visitor&)`.
class Loader {
 public:
  // Reads a YAML file into `root`. Throws ConfigError naming file:line and key.
  template <class S>
  static void load_file(const std::string& path, S& root) {
    Loader l;
    l.read_file(path, [&](Visitor& v) { root.visit(v); });
  }
  // Reads YAML text (source names it in errors).
  template <class S>
  static void load_string(const std::string& yaml, const std::string& source, S& root) {
    Loader l;
    l.read_string(yaml, source, [&](Visitor& v) { root.visit(v); });
  }
  // Applies "a.b.c=value" overrides (value parsed as YAML) in order.
  template <class S>
  static void apply_overrides(const std::vector<std::string>& overrides, S& root) {
    for (const auto& o : overrides) {
      Loader l;
      l.read_override(o, [&](Visitor& v) { root.visit(v); });
    }
  }

 private:
  template <class F>
  void read_file(const std::string& path, F&& f);
  template <class F>
  void read_string(const std::string& yaml, const std::string& source, F&& f);
  template <class F>
  void read_override(const std::string& ov, F&& f);
  void read_text_impl(const std::string& text, const std::string& source, bool is_override,
                      const std::function<void(Visitor&)>& f);
};

// Serialises `root` as YAML (the effective config written beside a run's outputs).
std::string to_yaml_impl(const std::function<void(Visitor&)>& f);
template <class S>
std::string to_yaml(S& root) {
  return to_yaml_impl([&](Visitor& v) { root.visit(v); });
}

// Checks that every required key has a value different from its default-empty state.
// Throws ConfigError "missing required value 'model.path'".
void check_required_impl(const std::function<void(Visitor&)>& f, const std::string& source);
template <class S>
void check_required(S& root, const std::string& source) {
  check_required_impl([&](Visitor& v) { root.visit(v); }, source);
}

// One line per key: "trainer.learning_rate  float  = 1e-06   peak learning rate".
std::string describe_impl(const std::function<void(Visitor&)>& f);
template <class S>
std::string describe(S& root) {
  return describe_impl([&](Visitor& v) { root.visit(v); });
}

// Levenshtein distance; used for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small distance, or "" if none is close.
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace grpo::cfg

// ---- template definitions (thin wrappers over the non-template implementation) ----
#include <functional>
namespace grpo::cfg {
// Reads a whole config file; throws ConfigError naming the path when it cannot.
std::string read_config_file(const std::string& path);
template <class F>
void Loader::read_file(const std::string& path, F&& f) {
  std::string text = read_config_file(path);
  read_text_impl(text, path, false, std::function<void(Visitor&)>(f));
}
template <class F>
void Loader::read_string(const std::string& yaml, const std::string& source, F&& f) {
  read_text_impl(yaml, source, false, std::function<void(Visitor&)>(f));
}
template <class F>
void Loader::read_override(const std::string& ov, F&& f) {
  read_text_impl(ov, "command-line override", true, std::function<void(Visitor&)>(f));
}
}  // namespace grpo::cfg
