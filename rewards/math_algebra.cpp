// rewards/math_algebra.cpp: checked 128-bit rationals, polynomials over the
// (squarefree radical x monomial) basis, rational functions, and long double evaluation.
// Giving up is an exception (GiveUp) caught at the two entry points: it means "not decided
// symbolically", never an error.
#include "rewards/math_algebra.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <utility>
#include <vector>

namespace grpo::rewards::math {
namespace {

using i128 = __int128;
using Kind = Expr::Kind;

struct GiveUp {};  // overflow, structure, infinity: not decided symbolically

i128 checked_mul(i128 a, i128 b) {
  i128 r;
  if (__builtin_mul_overflow(a, b, &r)) throw GiveUp{};
  return r;
}
i128 checked_add(i128 a, i128 b) {
  i128 r;
  if (__builtin_add_overflow(a, b, &r)) throw GiveUp{};
  return r;
}
i128 abs128(i128 a) { return a < 0 ? -a : a; }
i128 gcd128(i128 a, i128 b) {
  a = abs128(a), b = abs128(b);
  while (b != 0) a = std::exchange(b, a % b);
  return a;
}

struct Q {
  i128 n = 0, d = 1;
};
Q make_q(i128 n, i128 d) {
  if (d == 0) throw GiveUp{};
  if (d < 0) n = -n, d = -d;
  i128 g = gcd128(n, d);
  if (g > 1) n /= g, d /= g;
  return {n, d};
}
Q operator+(Q a, Q b) {
  i128 g = gcd128(a.d, b.d);
  return make_q(checked_add(checked_mul(a.n, b.d / g), checked_mul(b.n, a.d / g)),
                checked_mul(a.d / g, b.d));
}
Q operator*(Q a, Q b) {
  i128 g1 = gcd128(a.n, b.d), g2 = gcd128(b.n, a.d);
  if (g1 == 0) g1 = 1;
  if (g2 == 0) g2 = 1;
  return make_q(checked_mul(a.n / g1, b.n / g2), checked_mul(a.d / g2, b.d / g1));
}
Q neg(Q a) { return {-a.n, a.d}; }
bool is_zero(Q a) { return a.n == 0; }

// Exact integer k-th root of x >= 0, if x is a perfect k-th power.
std::optional<i128> exact_root(i128 x, int k) {
  if (x < 0) return std::nullopt;
  if (x < 2) return x;
  long double guess = std::pow(static_cast<long double>(x), 1.0L / k);
  for (i128 r = static_cast<i128>(guess) - 1; r <= static_cast<i128>(guess) + 1; ++r) {
    if (r < 0) continue;
    i128 p = 1;
    bool over = false;
    for (int i = 0; i < k && !over; ++i) over = __builtin_mul_overflow(p, r, &p);
    if (!over && p == x) return r;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Polynomials: map from basis element to coefficient.

struct Mono {
  i128 rad = 1;                      // squarefree radicand: sqrt(rad)
  std::map<std::string, int> atoms;  // atom -> exponent (> 0)
  bool operator<(const Mono& o) const { return rad != o.rad ? rad < o.rad : atoms < o.atoms; }
};
using Poly = std::map<Mono, Q>;

void add_term(Poly& p, const Mono& m, Q c) {
  if (is_zero(c)) return;
  auto [it, fresh] = p.emplace(m, c);
  if (!fresh) {
    it->second = it->second + c;
    if (is_zero(it->second)) p.erase(it);
  }
}
Poly constant(Q c) {
  Poly p;
  add_term(p, Mono{}, c);
  return p;
}
Poly operator+(const Poly& a, const Poly& b) {
  Poly out = a;
  for (const auto& [m, c] : b) add_term(out, m, c);
  return out;
}
Poly operator-(const Poly& a) {
  Poly out;
  for (const auto& [m, c] : a) out.emplace(m, neg(c));
  return out;
}
Poly operator*(const Poly& a, const Poly& b) {
  if (a.size() * b.size() > 4096) throw GiveUp{};
  Poly out;
  for (const auto& [ma, ca] : a) {
    for (const auto& [mb, cb] : b) {
      Mono m = ma;
      for (const auto& [atom, e] : mb.atoms) {
        if ((m.atoms[atom] += e) > 256) throw GiveUp{};
      }
      i128 g = gcd128(ma.rad, mb.rad);  // sqrt(g a) sqrt(g b) = g sqrt(a b)
      m.rad = checked_mul(ma.rad / g, mb.rad / g);
      add_term(out, m, ca * cb * Q{g, 1});
    }
  }
  return out;
}
bool is_constant_rational(const Poly& p) {
  return p.empty() ||
         (p.size() == 1 && p.begin()->first.rad == 1 && p.begin()->first.atoms.empty());
}
Q rational_value(const Poly& p) { return p.empty() ? Q{0, 1} : p.begin()->second; }
bool has_opaque(const Poly& p) {
  for (const auto& [m, c] : p) {
    for (const auto& [atom, e] : m.atoms) {
      if (!atom.empty() && atom[0] == '@') return true;
    }
  }
  return false;
}

std::string i128_string(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  std::string s;
  for (i128 x = neg ? -v : v; x > 0; x /= 10) s.insert(s.begin(), static_cast<char>('0' + x % 10));
  return neg ? "-" + s : s;
}
std::string poly_key(const Poly& p) {
  std::string out;
  for (const auto& [m, c] : p) {
    out += "+" + i128_string(c.n) + "/" + i128_string(c.d) + "r" + i128_string(m.rad);
    for (const auto& [atom, e] : m.atoms) out += "*" + atom + "^" + std::to_string(e);
  }
  return out.empty() ? "0" : out;
}

// ---------------------------------------------------------------------------------------
// Rational functions.

struct RF {
  Poly num, den;
};
RF rf_const(Q c) { return {constant(c), constant({1, 1})}; }
RF rf_atom(const std::string& name) {
  Mono m;
  m.atoms[name] = 1;
  Poly p;
  add_term(p, m, {1, 1});
  return {p, constant({1, 1})};
}
RF operator+(const RF& a, const RF& b) { return {a.num * b.den + b.num * a.den, a.den * b.den}; }
RF operator*(const RF& a, const RF& b) { return {a.num * b.num, a.den * b.den}; }
RF rf_neg(const RF& a) { return {-a.num, a.den}; }
RF rf_inv(const RF& a) {
  if (a.num.empty()) throw GiveUp{};  // division by zero
  return {a.den, a.num};
}
bool rf_opaque(const RF& a) { return has_opaque(a.num) || has_opaque(a.den); }
// A constant rational value, if the function is one.
std::optional<Q> rf_rational(const RF& a) {
  if (!is_constant_rational(a.num) || !is_constant_rational(a.den)) return std::nullopt;
  Q d = rational_value(a.den);
  if (is_zero(d)) throw GiveUp{};
  return rational_value(a.num) * make_q(d.d, d.n);
}
std::string rf_key(const RF& a) { return "(" + poly_key(a.num) + ")/(" + poly_key(a.den) + ")"; }
RF opaque(const std::string& name, const RF& arg) { return rf_atom("@" + name + rf_key(arg)); }

Q number_value(const Expr& e) {
  if (e.text.size() > 36) throw GiveUp{};
  i128 v = 0;
  for (char c : e.text) v = v * 10 + (c - '0');
  i128 p = 1;
  for (int k = 0; k < std::abs(e.scale); ++k) p = checked_mul(p, 10);
  return e.scale >= 0 ? make_q(v, p) : Q{checked_mul(v, p), 1};
}

RF to_rf(const Expr& e, int depth);

// sqrt(q) for a rational q >= 0: s * sqrt(r) with r squarefree.
RF sqrt_rational(Q q) {
  if (q.n < 0) throw GiveUp{};                               // not real
  i128 x = checked_mul(q.n, q.d);                            // sqrt(n/d) = sqrt(n d) / d
  if (x > static_cast<i128>(10000000000LL)) throw GiveUp{};  // trial division stays < 1e5 steps
  i128 out = 1, rad = 1;
  for (i128 f = 2; f * f <= x; ++f) {
    while (x % (f * f) == 0) x /= f * f, out *= f;
    if (x % f == 0) x /= f, rad *= f;
  }
  rad *= x;
  Mono m;
  m.rad = rad;
  Poly p;
  add_term(p, m, make_q(out, q.d));
  return {p, constant({1, 1})};
}

// sqrt(a + b sqrt(c)) = sqrt(x) + sign(b) sqrt(y) when a^2 - b^2 c is a rational square.
std::optional<RF> denest(const RF& arg) {
  if (!is_constant_rational(arg.den) || arg.num.size() != 2) return std::nullopt;
  auto it = arg.num.begin();
  const auto& [m0, a] = *it;
  const auto& [m1, b] = *std::next(it);
  if (m0.rad != 1 || !m0.atoms.empty() || !m1.atoms.empty()) return std::nullopt;
  Q c{m1.rad, 1};
  Q disc = a * a + neg(b * b * c);
  if (disc.n < 0) return std::nullopt;
  auto rn = exact_root(disc.n, 2), rd = exact_root(disc.d, 2);
  if (!rn || !rd) return std::nullopt;
  Q r = make_q(*rn, *rd), half{1, 2};
  Q x = (a + r) * half, y = (a + neg(r)) * half;
  if (x.n < 0 || y.n < 0) return std::nullopt;
  RF s = sqrt_rational(x) + (b.n < 0 ? rf_neg(sqrt_rational(y)) : sqrt_rational(y));
  Q den = rational_value(arg.den);  // sqrt(u / d) = sqrt(u) / sqrt(d)
  return s * rf_inv(sqrt_rational(den));
}

RF rf_sqrt(const RF& arg) {
  if (auto q = rf_rational(arg)) return sqrt_rational(*q);
  if (auto d = denest(arg)) return *d;
  return opaque("sqrt", arg);
}

// base^(p/k) for a rational base.
RF rational_power(Q base, Q exp) {
  i128 p = exp.n, k = exp.d;
  if (k > 64 || abs128(p) > 256) throw GiveUp{};
  RF b = rf_const(base);
  if (k == 1) {
    RF out = rf_const({1, 1});
    for (i128 i = 0; i < abs128(p); ++i) out = out * b;
    return p < 0 ? rf_inv(out) : out;
  }
  if (base.n < 0) throw GiveUp{};
  auto rn = exact_root(base.n, static_cast<int>(k)), rd = exact_root(base.d, static_cast<int>(k));
  if (rn && rd) return rational_power(make_q(*rn, *rd), {p, 1});
  if (k == 2) {
    RF s = sqrt_rational(base), out = rf_const({1, 1});
    for (i128 i = 0; i < abs128(p); ++i) out = out * s;
    return p < 0 ? rf_inv(out) : out;
  }
  return rf_atom("@root" + std::to_string(static_cast<long long>(k)) + "(" + i128_string(base.n) +
                 "/" + i128_string(base.d) + ")^" + std::to_string(static_cast<long long>(p)));
}

RF rf_pow(const Expr& e, int depth) {
  RF base = to_rf(e.args[0], depth + 1);
  RF ex = to_rf(e.args[1], depth + 1);
  std::optional<Q> q = rf_rational(ex);
  if (!q) return rf_atom("@pow" + rf_key(base) + "^" + rf_key(ex));
  if (auto b = rf_rational(base)) return rational_power(*b, *q);
  if (q->d == 1 && abs128(q->n) <= 64) {
    RF out = rf_const({1, 1});
    for (i128 i = 0; i < abs128(q->n); ++i) out = out * base;
    return q->n < 0 ? rf_inv(out) : out;
  }
  if (q->d == 2 && q->n == 1) return rf_sqrt(base);
  return rf_atom("@pow" + rf_key(base) + "^" + i128_string(q->n) + "/" + i128_string(q->d));
}

i128 integer_arg(const RF& a) {
  auto q = rf_rational(a);
  if (!q || q->d != 1) throw GiveUp{};
  return q->n;
}

RF rf_factorial_binom(const Expr& e, int depth) {
  if (e.kind == Kind::kFactorial) {
    i128 n = integer_arg(to_rf(e.args[0], depth + 1));
    if (n < 0 || n > 33) throw GiveUp{};
    i128 f = 1;
    for (i128 i = 2; i <= n; ++i) f = checked_mul(f, i);
    return rf_const({f, 1});
  }
  i128 n = integer_arg(to_rf(e.args[0], depth + 1)), k = integer_arg(to_rf(e.args[1], depth + 1));
  if (k < 0 || n < 0 || k > n) return rf_const({0, 1});
  Q r{1, 1};
  for (i128 i = 1; i <= k && i <= 200; ++i) r = r * make_q(n - k + i, i);
  if (k > 200) throw GiveUp{};
  return rf_const(r);
}

// log_b(x) = k when x = b^k for integers; ln(1) = 0; ln(e) = 1; else opaque.
RF rf_log(const Expr& e, int depth) {
  RF arg = to_rf(e.args[0], depth + 1);
  std::optional<Q> x = rf_rational(arg);
  if (x && x->n == 1 && x->d == 1) return rf_const({0, 1});
  if (e.text == "ln" && rf_key(arg) == rf_key(rf_atom("e"))) return rf_const({1, 1});
  // \log without a base is base 10 (the competition convention); ln is natural.
  Q base = e.text == "ln" ? Q{0, 1} : Q{10, 1};
  if (e.text == "log" && e.args.size() == 2) {
    std::optional<Q> b = rf_rational(to_rf(e.args[1], depth + 1));
    if (!b) return opaque("log", arg);
    base = *b;
  }
  if (x && base.n > 1 && base.d == 1 && x->d == 1) {
    i128 v = x->n, k = 0;
    while (v > 1 && v % base.n == 0) v /= base.n, ++k;
    if (v == 1) return rf_const({k, 1});
  }
  std::string tag = e.text + (e.args.size() == 2 ? rf_key(to_rf(e.args[1], depth + 1)) : "");
  return opaque(tag, arg);
}

RF rf_function(const Expr& e, int depth) {
  const std::string& f = e.text;
  if (f == "sqrt") return rf_sqrt(to_rf(e.args[0], depth + 1));
  if (f == "root") {
    Expr p;
    p.kind = Kind::kPow;
    Expr one;
    one.text = "1";
    Expr inv;
    inv.kind = Kind::kDiv;
    inv.args = {one, e.args[1]};
    p.args = {e.args[0], inv};
    return rf_pow(p, depth);
  }
  if (f == "binom") return rf_factorial_binom(e, depth);
  if (f == "log" || f == "ln" || f == "log10") return rf_log(e, depth);
  RF arg = to_rf(e.args[0], depth + 1);
  if (auto q = rf_rational(arg)) {
    if (f == "abs") return rf_const(q->n < 0 ? neg(*q) : *q);
    if (f == "floor" || f == "ceil") {
      i128 fl = q->n / q->d - ((q->n % q->d != 0 && q->n < 0) ? 1 : 0);
      return rf_const({f == "floor" || q->n % q->d == 0 ? fl : fl + 1, 1});
    }
  }
  return opaque(f, arg);
}

RF to_rf(const Expr& e, int depth) {
  if (depth > 2 * kMaxDepth) throw GiveUp{};
  switch (e.kind) {
    case Kind::kNum:
      return rf_const(number_value(e));
    case Kind::kSym:
      if (e.text == "infty") throw GiveUp{};
      return rf_atom(e.text);
    case Kind::kAdd: {
      RF acc = to_rf(e.args[0], depth + 1);
      for (size_t i = 1; i < e.args.size(); ++i) acc = acc + to_rf(e.args[i], depth + 1);
      return acc;
    }
    case Kind::kMul: {
      RF acc = to_rf(e.args[0], depth + 1);
      for (size_t i = 1; i < e.args.size(); ++i) acc = acc * to_rf(e.args[i], depth + 1);
      return acc;
    }
    case Kind::kDiv:
      return to_rf(e.args[0], depth + 1) * rf_inv(to_rf(e.args[1], depth + 1));
    case Kind::kNeg:
      return rf_neg(to_rf(e.args[0], depth + 1));
    case Kind::kPow:
      return rf_pow(e, depth);
    case Kind::kFunc:
      return rf_function(e, depth);
    case Kind::kFactorial:
      return rf_factorial_binom(e, depth);
    case Kind::kPercent:
      return to_rf(e.args[0], depth + 1) * rf_const({1, 100});
    default:
      throw GiveUp{};  // structure
  }
}

SymbolicVerdict compare_rf(const RF& a, const RF& b, bool up_to_sign) {
  Poly diff = a.num * b.den + -(b.num * a.den);
  bool opaque_any = rf_opaque(a) || rf_opaque(b);
  if (diff.empty()) return SymbolicVerdict::kEqual;
  if (up_to_sign && (a.num * b.den + b.num * a.den).empty()) return SymbolicVerdict::kEqual;
  return opaque_any ? SymbolicVerdict::kUnknown : SymbolicVerdict::kNotEqual;
}

}  // namespace

SymbolicVerdict symbolic_equal(const Expr& a, const Expr& b) {
  try {
    return compare_rf(to_rf(a, 0), to_rf(b, 0), false);
  } catch (const GiveUp&) {
    return SymbolicVerdict::kUnknown;
  }
}

SymbolicVerdict symbolic_equal_up_to_sign(const Expr& a, const Expr& b) {
  try {
    return compare_rf(to_rf(a, 0), to_rf(b, 0), true);
  } catch (const GiveUp&) {
    return SymbolicVerdict::kUnknown;
  }
}

// ---------------------------------------------------------------------------------------
// Numeric evaluation.

namespace {
using LD = long double;
constexpr LD kNaN = std::numeric_limits<LD>::quiet_NaN();

LD eval_function(const Expr& e, const std::map<std::string, LD>& vars) {
  const std::string& f = e.text;
  LD x = evaluate(e.args[0], vars);
  if (f == "sqrt") return std::sqrt(x);
  if (f == "root") {
    LD n = evaluate(e.args[1], vars);
    return x < 0 && std::fmod(n, 2.0L) == 1 ? -std::pow(-x, 1 / n) : std::pow(x, 1 / n);
  }
  if (f == "log" && e.args.size() == 2) return std::log(x) / std::log(evaluate(e.args[1], vars));
  if (f == "ln") return std::log(x);
  if (f == "log") return std::log10(x);
  if (f == "log10") return std::log10(x);
  if (f == "exp") return std::exp(x);
  if (f == "sin") return std::sin(x);
  if (f == "cos") return std::cos(x);
  if (f == "tan") return std::tan(x);
  if (f == "cot") return 1 / std::tan(x);
  if (f == "sec") return 1 / std::cos(x);
  if (f == "csc") return 1 / std::sin(x);
  if (f == "arcsin") return std::asin(x);
  if (f == "arccos") return std::acos(x);
  if (f == "arctan") return std::atan(x);
  if (f == "sinh") return std::sinh(x);
  if (f == "cosh") return std::cosh(x);
  if (f == "tanh") return std::tanh(x);
  if (f == "abs") return std::fabs(x);
  if (f == "floor") return std::floor(x);
  if (f == "ceil") return std::ceil(x);
  if (f == "binom") {
    LD k = evaluate(e.args[1], vars);
    return std::round(std::exp(std::lgamma(x + 1) - std::lgamma(k + 1) - std::lgamma(x - k + 1)));
  }
  return kNaN;
}
}  // namespace

long double evaluate(const Expr& e, const std::map<std::string, long double>& vars) {
  switch (e.kind) {
    case Kind::kNum: {
      LD v = std::strtold(e.text.c_str(), nullptr);
      return e.scale == 0 ? v : v * std::pow(10.0L, static_cast<LD>(-e.scale));
    }
    case Kind::kSym: {
      if (e.text == "pi") return std::numbers::pi_v<LD>;
      if (e.text == "e") return std::numbers::e_v<LD>;
      if (e.text == "infty") return std::numeric_limits<LD>::infinity();
      auto it = vars.find(e.text);
      return it == vars.end() ? kNaN : it->second;
    }
    case Kind::kAdd: {
      LD s = 0;
      for (const Expr& a : e.args) s += evaluate(a, vars);
      return s;
    }
    case Kind::kMul: {
      LD s = 1;
      for (const Expr& a : e.args) s *= evaluate(a, vars);
      return s;
    }
    case Kind::kDiv:
      return evaluate(e.args[0], vars) / evaluate(e.args[1], vars);
    case Kind::kNeg:
      return -evaluate(e.args[0], vars);
    case Kind::kPow:
      return std::pow(evaluate(e.args[0], vars), evaluate(e.args[1], vars));
    case Kind::kFunc:
      return eval_function(e, vars);
    case Kind::kFactorial:
      return std::tgamma(evaluate(e.args[0], vars) + 1);
    case Kind::kPercent:
      return evaluate(e.args[0], vars) / 100;
    default:
      return kNaN;
  }
}

void collect_variables(const Expr& e, std::set<std::string>& out) {
  if (e.kind == Kind::kSym && e.text != "pi" && e.text != "e" && e.text != "infty") {
    out.insert(e.text);
  }
  for (const Expr& a : e.args) collect_variables(a, out);
}

}  // namespace grpo::rewards::math
