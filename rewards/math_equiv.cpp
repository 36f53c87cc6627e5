// rewards/math_equiv.cpp: comparing parsed answers kind by kind (scalars, relations,
// intervals, tuples, sets and lists, matrices, choices, text), and picking the final value
// out of prose inside an answer.
#include "rewards/math_equiv.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "rewards/math_algebra.h"
#include "rewards/math_answer.h"
#include "rewards/math_expr.h"

namespace grpo::rewards {
namespace {

using math::Expr;
using Kind = Expr::Kind;

struct Ctx {
  const MathCheckOptions& opt;
  std::string method = "structure";
  int depth = 0;
};

bool trees_equal(const Expr& p, const Expr& g, Ctx& ctx);

Expr make(Kind k, std::vector<Expr> args) {
  Expr e;
  e.kind = k;
  e.args = std::move(args);
  return e;
}

bool is_variable(const Expr& e) {
  return e.kind == Kind::kSym && e.text != "pi" && e.text != "e" && e.text != "infty";
}

// +1 / -1 for (-)infinity, 0 otherwise.
int infinity_sign(const Expr& e) {
  if (e.kind == Kind::kSym && e.text == "infty") return 1;
  if (e.kind == Kind::kNeg && infinity_sign(e.args[0])) return -infinity_sign(e.args[0]);
  return 0;
}

// SplitMix64 of (seed, k): the numeric path's points are reproducible.
double point(uint64_t seed, uint64_t k) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (k + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return 0.3 + 2.4 * static_cast<double>(z >> 11) / 9007199254740992.0;  // in [0.3, 2.7)
}

bool close(long double a, long double b, double tol) {
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  long double scale = std::max<long double>({1.0L, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= tol * scale;
}

// f(vars) over `points` random assignments; false as soon as one check fails.
bool for_points(const Expr& a, const Expr& b, Ctx& ctx,
                const std::function<bool(const std::map<std::string, long double>&)>& check) {
  std::set<std::string> names;
  math::collect_variables(a, names);
  math::collect_variables(b, names);
  int n = names.empty() ? 1 : std::max(1, ctx.opt.points);
  for (int t = 0; t < n; ++t) {
    std::map<std::string, long double> vars;
    uint64_t k = 0;
    for (const auto& name : names) vars[name] = point(static_cast<uint64_t>(t) * 1315423911u, k++);
    if (!check(vars)) return false;
  }
  return true;
}

bool scalar_equal(const Expr& a, const Expr& b, Ctx& ctx) {
  int ia = infinity_sign(a), ib = infinity_sign(b);
  if (ia || ib) return ia == ib;
  switch (math::symbolic_equal(a, b)) {
    case math::SymbolicVerdict::kEqual:
      ctx.method = "symbolic";
      return true;
    case math::SymbolicVerdict::kNotEqual:
      ctx.method = "symbolic";
      return false;
    case math::SymbolicVerdict::kUnknown:
      break;
  }
  ctx.method = "numeric";
  return for_points(a, b, ctx, [&](const auto& vars) {
    return close(math::evaluate(a, vars), math::evaluate(b, vars), ctx.opt.rel_tol);
  });
}

// 10\% matches 10% written as 10 or 0.1: the percent sign is optional on either side.
bool percent_aware_equal(const Expr& p, const Expr& g, Ctx& ctx) {
  if (scalar_equal(p, g, ctx)) return true;
  bool pp = p.kind == Kind::kPercent, gp = g.kind == Kind::kPercent;
  if (pp == gp) return false;
  return pp ? scalar_equal(p.args[0], g, ctx) : scalar_equal(p, g.args[0], ctx);
}

// `x = v` -> v (an answer given as an assignment).
const Expr& strip_assignment(const Expr& e) {
  if (e.kind == Kind::kRel && e.text == "=" && e.args.size() == 2 && is_variable(e.args[0])) {
    return e.args[1];
  }
  return e;
}

// Every +- inside e expanded into its two values: (-1 \pm \sqrt{5}) / 2 is two numbers.
void expand_pm(const Expr& e, std::vector<Expr>& out, int budget = 8) {
  if (e.kind == Kind::kPm) {
    std::vector<Expr> lhs;
    expand_pm(e.args[0], lhs, budget / 2);
    for (const Expr& a : lhs) {
      out.push_back(make(Kind::kAdd, {a, e.args[1]}));
      out.push_back(make(Kind::kAdd, {a, make(Kind::kNeg, {e.args[1]})}));
    }
    return;
  }
  for (size_t i = 0; i < e.args.size() && budget > 1; ++i) {
    std::vector<Expr> alts;
    expand_pm(e.args[i], alts, budget / 2);
    if (alts.size() < 2) continue;
    for (Expr& alt : alts) {
      Expr copy = e;
      copy.args[i] = std::move(alt);
      expand_pm(copy, out, budget / 2);
    }
    return;
  }
  out.push_back(e);
}

bool has_pm(const Expr& e) {
  if (e.kind == Kind::kPm) return true;
  for (const Expr& a : e.args) {
    if (has_pm(a)) return true;
  }
  return false;
}

void add_elements(const Expr& e, std::vector<Expr>& out) {
  const Expr& v = strip_assignment(e);
  if (has_pm(v) && v.kind != Kind::kList && v.kind != Kind::kSet) {
    expand_pm(v, out);
  } else if (v.kind == Kind::kList && &v != &e) {
    for (const Expr& x : v.args) add_elements(x, out);  // x = 1, 2
  } else {
    out.push_back(v);
  }
}

// Elements of a set, bare list, +- or single value, in order.
std::vector<Expr> elements(const Expr& e) {
  std::vector<Expr> out;
  if (e.kind == Kind::kSet || e.kind == Kind::kList) {
    for (const Expr& x : e.args) add_elements(x, out);
  } else {
    add_elements(e, out);
  }
  return out;
}

bool ordered_equal(const std::vector<Expr>& a, const std::vector<Expr>& b, Ctx& ctx);

// Matching in any order is quadratic: past kMaxUnordered items only in order.
constexpr size_t kMaxUnordered = 256;

bool unordered_equal(const std::vector<Expr>& a, const std::vector<Expr>& b, Ctx& ctx) {
  if (a.size() != b.size()) return false;
  if (a.size() > kMaxUnordered) return ordered_equal(a, b, ctx);
  std::vector<bool> used(b.size(), false);
  for (const Expr& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      if (!used[j] && trees_equal(x, b[j], ctx)) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

bool ordered_equal(const std::vector<Expr>& a, const std::vector<Expr>& b, Ctx& ctx) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!trees_equal(a[i], b[i], ctx)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Intervals.

struct Interval {
  Expr lo, hi;
  bool lo_closed = false, hi_closed = false;
};

Expr infinity(int sign) {
  Expr inf;
  inf.kind = Kind::kSym;
  inf.text = "infty";
  return sign > 0 ? inf : make(Kind::kNeg, {inf});
}

// "x < c", "c <= x", "a < x <= b" -> the interval of x.
std::optional<Interval> relation_interval(const Expr& r) {
  std::vector<std::string> ops;
  for (size_t s = 0, e; s <= r.text.size(); s = e + 1) {
    e = r.text.find(' ', s);
    if (e == std::string::npos) e = r.text.size();
    ops.push_back(r.text.substr(s, e - s));
  }
  auto less = [](const std::string& op) { return op == "<" || op == "le"; };
  auto greater = [](const std::string& op) { return op == ">" || op == "ge"; };
  auto closed = [](const std::string& op) { return op == "le" || op == "ge"; };
  if (ops.size() == 1 && (less(ops[0]) || greater(ops[0]))) {
    bool var_left = is_variable(r.args[0]);
    if (!var_left && !is_variable(r.args[1])) return std::nullopt;
    const Expr& c = var_left ? r.args[1] : r.args[0];
    bool upper = var_left == less(ops[0]);  // x < c or c > x: c bounds x from above
    if (upper) return Interval{infinity(-1), c, false, closed(ops[0])};
    return Interval{c, infinity(1), closed(ops[0]), false};
  }
  if (ops.size() == 2 && is_variable(r.args[1])) {
    if (less(ops[0]) && less(ops[1])) {
      return Interval{r.args[0], r.args[2], closed(ops[0]), closed(ops[1])};
    }
    if (greater(ops[0]) && greater(ops[1])) {
      return Interval{r.args[2], r.args[0], closed(ops[1]), closed(ops[0])};
    }
  }
  return std::nullopt;
}

std::optional<std::vector<Interval>> as_intervals(const Expr& e) {
  if (e.kind == Kind::kTuple && e.args.size() == 2) {
    return std::vector<Interval>{{e.args[0], e.args[1], e.text[0] == '[', e.text[1] == ']'}};
  }
  if (e.kind == Kind::kRel && e.text == "in" && e.args.size() == 2) return as_intervals(e.args[1]);
  if (e.kind == Kind::kRel) {
    if (auto iv = relation_interval(e)) return std::vector<Interval>{*iv};
    return std::nullopt;
  }
  if (e.kind == Kind::kUnion || e.kind == Kind::kList) {
    std::vector<Interval> out;
    for (const Expr& part : e.args) {
      auto p = as_intervals(part);
      if (!p) return std::nullopt;
      out.insert(out.end(), p->begin(), p->end());
    }
    return out;
  }
  return std::nullopt;
}

bool intervals_equal(const std::vector<Interval>& a, const std::vector<Interval>& b, Ctx& ctx) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const Interval& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      const Interval& y = b[j];
      // An infinite end is never closed: [0, \infty] reads as [0, \infty).
      bool lo_ok = x.lo_closed == y.lo_closed || infinity_sign(x.lo) != 0;
      bool hi_ok = x.hi_closed == y.hi_closed || infinity_sign(x.hi) != 0;
      if (!used[j] && lo_ok && hi_ok && trees_equal(x.lo, y.lo, ctx) &&
          trees_equal(x.hi, y.hi, ctx)) {
        used[j] = found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Relations.

bool is_single_equation(const Expr& e) {
  return e.kind == Kind::kRel && e.text == "=" && e.args.size() == 2;
}

// l1 = r1 and l2 = r2 are the same equation when l1 - r1 = c (l2 - r2), c != 0.
bool equations_equal(const Expr& p, const Expr& g, Ctx& ctx) {
  if (is_variable(p.args[0]) && is_variable(g.args[0]) && p.args[0].text == g.args[0].text) {
    return trees_equal(p.args[1], g.args[1], ctx);
  }
  Expr dp = make(Kind::kAdd, {p.args[0], make(Kind::kNeg, {p.args[1]})});
  Expr dg = make(Kind::kAdd, {g.args[0], make(Kind::kNeg, {g.args[1]})});
  if (math::symbolic_equal_up_to_sign(dp, dg) == math::SymbolicVerdict::kEqual) {
    ctx.method = "symbolic";
    return true;
  }
  ctx.method = "numeric";
  long double ratio = std::nanl("");
  return for_points(dp, dg, ctx, [&](const auto& vars) {
    long double a = math::evaluate(dp, vars), b = math::evaluate(dg, vars);
    if (!std::isfinite(a) || !std::isfinite(b) || std::fabs(b) < 1e-12) return false;
    if (std::isnan(ratio)) ratio = a / b;
    return ratio != 0 && close(a / b, ratio, ctx.opt.rel_tol);
  });
}

bool relation_equal(const Expr& p, const Expr& g, Ctx& ctx) {
  if (p.kind == Kind::kRel && g.kind == Kind::kRel) {
    if (is_single_equation(p) && is_single_equation(g)) return equations_equal(p, g, ctx);
    if (p.text == g.text && ordered_equal(p.args, g.args, ctx)) return true;
  }
  const Expr& ps = strip_assignment(p);
  const Expr& gs = strip_assignment(g);
  if (&ps != &p || &gs != &g) return trees_equal(ps, gs, ctx);
  auto ip = as_intervals(p), ig = as_intervals(g);
  return ip && ig && intervals_equal(*ip, *ig, ctx);
}

// ---------------------------------------------------------------------------------------
// Dispatch.

bool is_structure(const Expr& e) {
  if (has_pm(e)) return true;
  switch (e.kind) {
    case Kind::kTuple:
    case Kind::kSet:
    case Kind::kList:
    case Kind::kUnion:
    case Kind::kMatrix:
    case Kind::kPm:
    case Kind::kRel:
    case Kind::kText:
      return true;
    default:
      return false;
  }
}

std::vector<Expr> matrix_cells(const Expr& m) {
  std::vector<Expr> out;
  for (const Expr& row : m.args) out.insert(out.end(), row.args.begin(), row.args.end());
  return out;
}

bool is_vector(const Expr& m) {
  return m.kind == Kind::kMatrix && (m.args.size() == 1 || m.args[0].args.size() == 1);
}

bool structure_equal(const Expr& p, const Expr& g, Ctx& ctx) {
  if (p.kind == Kind::kText || g.kind == Kind::kText) {
    ctx.method = "text";
    return p.kind == g.kind && p.text == g.text;
  }
  if (p.kind == Kind::kRel || g.kind == Kind::kRel) return relation_equal(p, g, ctx);
  if (p.kind == Kind::kMatrix && g.kind == Kind::kMatrix) {
    if (p.args.size() != g.args.size() || p.args[0].args.size() != g.args[0].args.size()) {
      return false;
    }
    return ordered_equal(matrix_cells(p), matrix_cells(g), ctx);
  }
  if ((is_vector(p) && g.kind == Kind::kTuple && g.text == "()") ||
      (is_vector(g) && p.kind == Kind::kTuple && p.text == "()")) {
    return ordered_equal(p.kind == Kind::kMatrix ? matrix_cells(p) : p.args,
                         g.kind == Kind::kMatrix ? matrix_cells(g) : g.args, ctx);
  }
  if (p.kind == Kind::kTuple && g.kind == Kind::kTuple) {
    if (p.text == g.text) return ordered_equal(p.args, g.args, ctx);
    auto ip = as_intervals(p), ig = as_intervals(g);  // [0, \infty] is [0, \infty)
    return ip && ig && intervals_equal(*ip, *ig, ctx);
  }
  if ((p.kind == Kind::kTuple && g.kind == Kind::kList) ||
      (p.kind == Kind::kList && g.kind == Kind::kTuple)) {
    return ordered_equal(p.args, g.args, ctx);  // (1, 2) written as 1, 2
  }
  if (p.kind == Kind::kUnion || g.kind == Kind::kUnion) {
    auto ip = as_intervals(p), ig = as_intervals(g);
    return ip && ig && intervals_equal(*ip, *ig, ctx);
  }
  if (p.kind == Kind::kTuple || g.kind == Kind::kTuple || p.kind == Kind::kMatrix ||
      g.kind == Kind::kMatrix) {
    return false;
  }
  return unordered_equal(elements(p), elements(g), ctx);  // sets, lists, +-, one value
}

bool trees_equal(const Expr& p, const Expr& g, Ctx& ctx) {
  if (++ctx.depth > 4 * math::kMaxDepth) return false;
  bool eq = is_structure(p) || is_structure(g) ? structure_equal(p, g, ctx)
                                               : percent_aware_equal(p, g, ctx);
  --ctx.depth;
  return eq;
}

// ---------------------------------------------------------------------------------------
// Prose inside an answer.

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The last $..$ span; else what follows the last " is " / "=" / ":"; else the last number.
std::optional<std::string> prose_value(std::string_view s) {
  size_t close = s.rfind('$');
  if (close != std::string_view::npos && close > 0) {
    size_t open = s.rfind('$', close - 1);
    if (open != std::string_view::npos && close > open + 1) {
      return std::string(s.substr(open + 1, close - open - 1));
    }
  }
  size_t best = std::string_view::npos, len = 0;
  for (std::string_view marker : {" is ", "=", ":"}) {
    size_t at = s.rfind(marker);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at, len = marker.size();
    }
  }
  if (best != std::string_view::npos) {
    std::string_view rest = trim_view(s.substr(best + len));
    if (!rest.empty()) return std::string(rest);
  }
  size_t end = s.find_last_of("0123456789");
  if (end == std::string_view::npos) return std::nullopt;
  size_t begin = end;
  while (begin > 0 && (std::isdigit(static_cast<unsigned char>(s[begin - 1])) ||
                       s[begin - 1] == '.' || s[begin - 1] == '/' || s[begin - 1] == ',')) {
    --begin;
  }
  if (begin > 0 && s[begin - 1] == '-') --begin;
  return std::string(s.substr(begin, end - begin + 1));
}

bool is_value(const math::ParsedAnswer& a) { return a.ok && a.root.kind != Kind::kText; }

}  // namespace

MathVerdict math_equivalent(std::string_view pred, std::string_view gold,
                            const MathCheckOptions& options) {
  math::ParsedAnswer g = math::parse_answer(gold);
  math::ParsedAnswer p = math::parse_answer(pred);
  if (g.choice) {
    if (!p.choice && !is_value(p)) {
      if (auto v = prose_value(pred)) p = math::parse_answer(*v);
    }
    return {p.choice == g.choice || (!p.text.empty() && p.text == g.text), "choice"};
  }
  if (!p.text.empty() && p.text == g.text) return {true, "text"};
  if (!is_value(p) && is_value(g) && pred.size() <= math::kMaxAnswerBytes) {
    if (auto v = prose_value(pred)) p = math::parse_answer(*v);
  }
  if (!p.ok || !g.ok) return {false, "unparsed"};
  Ctx ctx{options};
  bool eq = trees_equal(p.root, g.root, ctx);
  return {eq, ctx.method};
}

std::optional<std::string> extract_math_answer(std::string_view completion, bool unanchored) {
  if (auto a = extract_answer(completion)) return std::string(*a);
  if (!unanchored) return std::nullopt;
  std::string_view region = answer_region(completion);
  while (!region.empty()) {
    size_t nl = region.find_last_of('\n');
    std::string_view line =
        trim_view(nl == std::string_view::npos ? region : region.substr(nl + 1));
    if (line.find_first_of("0123456789") != std::string_view::npos) return std::string(line);
    if (nl == std::string_view::npos) break;
    region = region.substr(0, nl);
  }
  return std::nullopt;
}

}  // namespace grpo::rewards
