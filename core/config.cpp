// core/config.cpp: the YAML reader, writer, required-key checker and describer behind
// core/config.h. The reader walks the YAML tree alongside a section's visit(), so every
// key the YAML holds that no visit() named is reported as unknown, with a suggestion.
#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace grpo::cfg {

std::string read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(str("cannot open config file '", path, "'"));
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

namespace {

std::string join_path(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
}

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing (null)";
    default: return "a scalar";
  }
}

Json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json j = Json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      Json j = Json::array();
      for (const auto& e : n) j.push_back(yaml_to_json(e));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      int64_t i;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && p == s.data() + s.size()) return i;
      // strtod also reads "nan", "inf" and hex ("0x1p3"): JSON has no NaN/inf (they would
      // be written as null), and YAML reads those as strings, so they stay strings.
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      bool hex = s.find_first_of("xX") != std::string::npos;
      if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && !hex) return d;
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      return s;
    }
    default: return nullptr;
  }
}

void json_to_yaml(YAML::Emitter& e, const Json& j) {
  if (j.is_object()) {
    e << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      e << YAML::Key << it.key() << YAML::Value;
      json_to_yaml(e, it.value());
    }
    e << YAML::EndMap;
  } else if (j.is_array()) {
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : j) json_to_yaml(e, x);
    e << YAML::EndSeq;
  } else if (j.is_string()) {
    e << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_null()) {
    e << YAML::Null;
  } else {
    e << j.dump();
  }
}

// ---------------------------------------------------------------------------------
class Reader final : public Visitor {
 public:
  Reader(YAML::Node root, std::string source, bool is_override)
      : source_(std::move(source)), is_override_(is_override) {
    frames_.push_back(Frame{root, "", {}, true});
  }

  void finish() { check_unknown(frames_.back()); }

  void field(std::string_view n, bool& v, const Opt& o) override {
    if (auto node = get(n)) {
      const std::string& s = scalar(*node, n, "a boolean (true/false)");
      if (s == "true" || s == "True" || s == "yes" || s == "on") v = true;
      else if (s == "false" || s == "False" || s == "no" || s == "off") v = false;
      else fail(*node, n, str("expected a boolean (true/false), got '", s, "'"));
    }
  }
  void field(std::string_view n, int64_t& v, const Opt& o) override {
    if (auto node = get(n)) {
      v = parse_int(*node, n, "an integer");
      check_range(*node, n, static_cast<double>(v), o);
    }
  }
  void field(std::string_view n, double& v, const Opt& o) override {
    if (auto node = get(n)) {
      v = parse_double(*node, n);
      check_range(*node, n, v, o);
    }
  }
  void field(std::string_view n, std::string& v, const Opt& o) override {
    if (auto node = get(n)) {
      v = scalar(*node, n, "a string");
      if (!o.one_of.empty() &&
          std::find(o.one_of.begin(), o.one_of.end(), v) == o.one_of.end()) {
        std::string allowed;
        for (const auto& a : o.one_of) allowed += (allowed.empty() ? "" : ", ") + a;
        std::string hint = closest(v, o.one_of);
        fail(*node, n, str("expected one of {", allowed, "}, got '", v, "'",
                           hint.empty() ? "" : str(" (did you mean '", hint, "'?)")));
      }
    }
  }
  void field(std::string_view n, std::vector<std::string>& v, const Opt& o) override {
    if (auto node = get(n)) {
      v.clear();
      if (node->IsScalar()) {  // a single value or a comma-separated list
        std::stringstream ss(node->Scalar());
        std::string item;
        while (std::getline(ss, item, ',')) v.push_back(item);
        return;
      }
      if (!node->IsSequence()) fail(*node, n, str("expected a list of strings, got ", kind_name(*node)));
      for (const auto& e : *node) v.push_back(scalar(e, n, "a list of strings"));
    }
  }
  void field(std::string_view n, std::vector<int64_t>& v, const Opt& o) override {
    if (auto node = get(n)) {
      if (!node->IsSequence()) fail(*node, n, str("expected a list of integers, got ", kind_name(*node)));
      v.clear();
      for (const auto& e : *node) v.push_back(parse_int(e, n, "a list of integers"));
    }
  }
  void field(std::string_view n, std::vector<double>& v, const Opt& o) override {
    if (auto node = get(n)) {
      if (!node->IsSequence()) fail(*node, n, str("expected a list of numbers, got ", kind_name(*node)));
      v.clear();
      for (const auto& e : *node) v.push_back(parse_double(e, n));
    }
  }
  void field(std::string_view n, Json& v, const Opt& o) override {
    if (auto node = get(n)) {
      Json j = yaml_to_json(*node);
      if (is_override_ && v.is_object() && j.is_object()) v.merge_patch(j);
      else v = std::move(j);
    }
  }

  const std::set<std::string>& set_paths() const { return set_paths_; }

 protected:
  bool begin_section(std::string_view n, const Opt& o) override {
    Frame& f = frames_.back();
    f.known.push_back(std::string(n));
    YAML::Node child = f.node.IsMap() ? f.node[std::string(n)] : YAML::Node();
    bool present = f.node.IsMap() && child.IsDefined() && !child.IsNull();
    if (present && !child.IsMap())
      fail(child, n, str("expected a map of keys, got ", kind_name(child)));
    frames_.push_back(Frame{present ? child : YAML::Node(YAML::NodeType::Map),
                            join_path(f.path, n), {}, present});
    return true;
  }
  void end_section() override {
    Frame f = frames_.back();
    frames_.pop_back();
    if (f.present) check_unknown(f);
  }
  int64_t begin_list(std::string_view n, int64_t current, const Opt& o) override {
    Frame& f = frames_.back();
    f.known.push_back(std::string(n));
    YAML::Node child = f.node.IsMap() ? f.node[std::string(n)] : YAML::Node();
    list_stack_.push_back({child, join_path(f.path, n)});
    if (!f.node.IsMap() || !child.IsDefined()) return -1;
    if (child.IsNull()) return 0;
    if (!child.IsSequence()) fail(child, n, str("expected a list, got ", kind_name(child)));
    set_paths_.insert(join_path(f.path, n));
    return static_cast<int64_t>(child.size());
  }
  void begin_item(size_t i) override {
    auto& [node, path] = list_stack_.back();
    YAML::Node item = node[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) fail(item, "", str(p, ": expected a map of keys, got ", kind_name(item)));
    frames_.push_back(Frame{item, p, {}, true});
  }
  void end_item() override {
    Frame f = frames_.back();
    frames_.pop_back();
    check_unknown(f);
  }
  void end_list() override { list_stack_.pop_back(); }
  bool replaces_lists() const override { return true; }

 private:
  struct Frame {
    YAML::Node node;
    std::string path;
    std::vector<std::string> known;
    bool present;
  };

  std::optional<YAML::Node> get(std::string_view n) {
    Frame& f = frames_.back();
    f.known.push_back(std::string(n));
    if (!f.node.IsMap()) return std::nullopt;
    YAML::Node child = f.node[std::string(n)];
    if (!child.IsDefined()) return std::nullopt;
    set_paths_.insert(join_path(f.path, n));
    return child;
  }

  std::string where(const YAML::Node& node) const {
    if (is_override_) return source_;
    const YAML::Mark m = node.Mark();
    if (m.line < 0) return source_;
    return str(source_, ":", m.line + 1);
  }

  [[noreturn]] void fail(const YAML::Node& node, std::string_view n, const std::string& what) const {
    std::string key = n.empty() ? "" : join_path(frames_.back().path, n) + ": ";
    throw ConfigError(str(where(node), ": ", key, what));
  }

  const std::string& scalar(const YAML::Node& node, std::string_view n, const char* expected) const {
    if (!node.IsScalar()) fail(node, n, str("expected ", expected, ", got ", kind_name(node)));
    return node.Scalar();
  }

  int64_t parse_int(const YAML::Node& node, std::string_view n, const char* expected) const {
    const std::string& s = scalar(node, n, expected);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
      // Accept integral floats written as 1e3.
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size() && std::floor(d) == d && std::fabs(d) < 9e18)
        return static_cast<int64_t>(d);
      fail(node, n, str("expected ", expected, ", got '", s, "'"));
    }
    return v;
  }

  double parse_double(const YAML::Node& node, std::string_view n) const {
    const std::string& s = scalar(node, n, "a number (float)");
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || std::isnan(d))
      fail(node, n, str("expected a number (float), got '", s, "'"));
    return d;
  }

  void check_range(const YAML::Node& node, std::string_view n, double v, const Opt& o) const {
    if (!o.range) return;
    const Range& r = *o.range;
    bool ok = (r.lo_open ? v > r.lo : v >= r.lo) && (r.hi_open ? v < r.hi : v <= r.hi);
    if (!ok) {
      auto fmt = [](double x) {
        std::ostringstream os;
        os << x;
        return os.str();
      };
      std::string lo = r.lo <= -1e299 ? "-inf" : fmt(r.lo);
      std::string hi = r.hi >= 1e299 ? "inf" : fmt(r.hi);
      fail(node, n, str("value ", fmt(v), " is out of range ", r.lo_open ? "(" : "[", lo, ", ",
                        hi, r.hi_open ? ")" : "]"));
    }
  }

  void check_unknown(const Frame& f) const {
    if (!f.node.IsMap()) {
      if (f.path.empty() && f.node.IsDefined() && !f.node.IsNull())
        throw ConfigError(str(where(f.node), ": expected a map of sections at the top level, got ",
                              kind_name(f.node)));
      return;
    }
    for (const auto& kv : f.node) {
      std::string key = kv.first.as<std::string>();
      if (std::find(f.known.begin(), f.known.end(), key) != f.known.end()) continue;
      std::string hint = closest(key, f.known);
      std::string full = join_path(f.path, key);
      throw ConfigError(str(where(kv.first), ": unknown key '", full, "'",
                            hint.empty() ? "" : str(" (did you mean '", join_path(f.path, hint), "'?)")));
    }
  }

  std::vector<Frame> frames_;
  std::vector<std::pair<YAML::Node, std::string>> list_stack_;
  std::string source_;
  bool is_override_;
  std::set<std::string> set_paths_;
};

// ---------------------------------------------------------------------------------
class Writer final : public Visitor {
 public:
  Writer() { e_ << YAML::BeginMap; }
  std::string finish() {
    e_ << YAML::EndMap;
    return std::string(e_.c_str()) + "\n";
  }
  void field(std::string_view n, bool& v, const Opt&) override { kv(n) << (v ? "true" : "false"); }
  void field(std::string_view n, int64_t& v, const Opt&) override { kv(n) << v; }
  void field(std::string_view n, double& v, const Opt&) override {
    std::ostringstream os;
    os.precision(17);
    os << v;
    std::string s = os.str();
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    kv(n) << s;
  }
  void field(std::string_view n, std::string& v, const Opt&) override {
    kv(n) << YAML::DoubleQuoted << v;
  }
  void field(std::string_view n, std::vector<std::string>& v, const Opt&) override {
    kv(n) << YAML::Flow << YAML::BeginSeq;
    for (auto& s : v) e_ << YAML::DoubleQuoted << s;
    e_ << YAML::EndSeq;
  }
  void field(std::string_view n, std::vector<int64_t>& v, const Opt&) override {
    kv(n) << YAML::Flow << YAML::BeginSeq;
    for (auto x : v) e_ << x;
    e_ << YAML::EndSeq;
  }
  void field(std::string_view n, std::vector<double>& v, const Opt&) override {
    kv(n) << YAML::Flow << YAML::BeginSeq;
    for (auto x : v) e_ << x;
    e_ << YAML::EndSeq;
  }
  void field(std::string_view n, Json& v, const Opt&) override {
    kv(n);
    json_to_yaml(e_, v.is_null() ? Json::object() : v);
  }

 protected:
  bool begin_section(std::string_view n, const Opt&) override {
    kv(n) << YAML::BeginMap;
    return true;
  }
  void end_section() override { e_ << YAML::EndMap; }
  int64_t begin_list(std::string_view n, int64_t current, const Opt&) override {
    kv(n) << YAML::BeginSeq;
    return current;
  }
  void begin_item(size_t) override { e_ << YAML::BeginMap; }
  void end_item() override { e_ << YAML::EndMap; }
  void end_list() override { e_ << YAML::EndSeq; }

 private:
  YAML::Emitter& kv(std::string_view n) {
    e_ << YAML::Key << std::string(n) << YAML::Value;
    return e_;
  }
  YAML::Emitter e_;
};

// ---------------------------------------------------------------------------------
// Walks keys with their paths; used for the required check and the describer.
class PathWalker : public Visitor {
 public:
  using Fn = std::function<void(const std::string& path, const char* type, const std::string& value,
                                bool empty, const Opt& o)>;
  explicit PathWalker(Fn fn) : fn_(std::move(fn)) {}
  void field(std::string_view n, bool& v, const Opt& o) override { emit(n, "bool", v ? "true" : "false", false, o); }
  void field(std::string_view n, int64_t& v, const Opt& o) override { emit(n, "int", std::to_string(v), false, o); }
  void field(std::string_view n, double& v, const Opt& o) override {
    std::ostringstream os;
    os << v;
    emit(n, "float", os.str(), false, o);
  }
  void field(std::string_view n, std::string& v, const Opt& o) override { emit(n, "string", "\"" + v + "\"", v.empty(), o); }
  void field(std::string_view n, std::vector<std::string>& v, const Opt& o) override {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
    emit(n, "list[string]", "[" + s + "]", v.empty(), o);
  }
  void field(std::string_view n, std::vector<int64_t>& v, const Opt& o) override {
    std::string s;
    for (auto x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
    emit(n, "list[int]", "[" + s + "]", v.empty(), o);
  }
  void field(std::string_view n, std::vector<double>& v, const Opt& o) override {
    std::ostringstream os;
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    emit(n, "list[float]", "[" + os.str() + "]", v.empty(), o);
  }
  void field(std::string_view n, Json& v, const Opt& o) override {
    emit(n, "map", v.is_null() ? "{}" : v.dump(), v.is_null() || v.empty(), o);
  }

 protected:
  bool begin_section(std::string_view n, const Opt&) override {
    stack_.push_back(join_path(stack_.empty() ? "" : stack_.back(), n));
    return true;
  }
  void end_section() override { stack_.pop_back(); }
  int64_t begin_list(std::string_view n, int64_t current, const Opt& o) override {
    std::string p = join_path(stack_.empty() ? "" : stack_.back(), n);
    fn_(p, "list", "[" + std::to_string(current) + " items]", current == 0, o);
    stack_.push_back(p);
    return current;
  }
  void begin_item(size_t i) override { stack_.push_back(stack_.back() + "[" + std::to_string(i) + "]"); }
  void end_item() override { stack_.pop_back(); }
  void end_list() override { stack_.pop_back(); }

 private:
  void emit(std::string_view n, const char* type, const std::string& value, bool empty, const Opt& o) {
    fn_(join_path(stack_.empty() ? "" : stack_.back(), n), type, value, empty, o);
  }
  Fn fn_;
  std::vector<std::string> stack_;
};

}  // namespace

void Loader::read_text_impl(const std::string& text, const std::string& source, bool is_override,
                            const std::function<void(Visitor&)>& f) {
  YAML::Node root;
  std::string src = source;
  if (is_override) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(str("command-line override '", text, "': expected KEY=VALUE, e.g. trainer.learning_rate=1e-6"));
    std::string key = text.substr(0, eq), value = text.substr(eq + 1);
    src = str("command-line override '", text, "'");
    YAML::Node v;
    try {
      v = value.empty() ? YAML::Node(std::string()) : YAML::Load(value);
    } catch (const YAML::Exception& e) {
      throw ConfigError(str(src, ": value is not valid YAML: ", e.msg));
    }
    // Build {a: {b: {c: v}}} from a.b.c
    std::vector<std::string> parts;
    std::stringstream ss(key);
    std::string part;
    while (std::getline(ss, part, '.')) parts.push_back(part);
    YAML::Node node = v;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      YAML::Node m(YAML::NodeType::Map);
      m[*it] = node;
      node = m;
    }
    root = node;
  } else {
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      throw ConfigError(str(source, ":", e.mark.line + 1, ":", e.mark.column + 1,
                            ": YAML syntax error: ", e.msg));
    }
    if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  }
  Reader r(root, src, is_override);
  f(r);
  r.finish();
}

std::string to_yaml_impl(const std::function<void(Visitor&)>& f) {
  Writer w;
  f(w);
  return w.finish();
}

void check_required_impl(const std::function<void(Visitor&)>& f, const std::string& source) {
  PathWalker w([&](const std::string& path, const char*, const std::string&, bool empty, const Opt& o) {
    if (o.required && empty)
      throw ConfigError(str(source, ": missing required value '", path, "'",
                            o.doc && *o.doc ? str(" (", o.doc, ")") : ""));
  });
  f(w);
}

std::string describe_impl(const std::function<void(Visitor&)>& f) {
  std::ostringstream os;
  PathWalker w([&](const std::string& path, const char* type, const std::string& value, bool,
                   const Opt& o) {
    os << path << " (" << type << ") = " << value;
    if (!o.one_of.empty()) {
      os << "  one of {";
      for (size_t i = 0; i < o.one_of.size(); ++i) os << (i ? ", " : "") << o.one_of[i];
      os << "}";
    }
    if (o.required) os << "  [required]";
    if (o.doc && *o.doc) os << "\n    " << o.doc;
    os << "\n";
  });
  f(w);
  return os.str();
}

}  // namespace grpo::cfg
