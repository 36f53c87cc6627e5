// data/generators.cpp: arith and countdown generators, the countdown solver and the worked
// solution traces (see generators.h).
#include "data/generators.h"

#include <functional>

#include "core/error.h"

namespace grpo::data {
namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
};

std::string digits_of(int64_t v) { return std::to_string(v); }

// Column addition, least significant digit first: "7 + 5 = 12, write 2 carry 1".
std::string add_trace(int64_t a, int64_t b) {
  std::string s;
  std::string da = digits_of(a), db = digits_of(b);
  int64_t carry = 0;
  size_t n = std::max(da.size(), db.size());
  for (size_t i = 0; i < n; ++i) {
    int64_t x = i < da.size() ? da[da.size() - 1 - i] - '0' : 0;
    int64_t y = i < db.size() ? db[db.size() - 1 - i] - '0' : 0;
    int64_t sum = x + y + carry;
    if (!s.empty()) s += ", ";
    s += str(x, " + ", y);
    if (carry) s += " + 1";
    s += str(" = ", sum);
    carry = sum / 10;
    if (carry) s += " carry 1";
  }
  return s;
}

// Column subtraction of a >= b with borrows.
std::string sub_trace(int64_t a, int64_t b) {
  std::string s;
  std::string da = digits_of(a), db = digits_of(b);
  int64_t borrow = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    int64_t x = da[da.size() - 1 - i] - '0';
    int64_t y = i < db.size() ? db[db.size() - 1 - i] - '0' : 0;
    int64_t top = x - borrow;
    if (!s.empty()) s += ", ";
    if (top < y) {
      s += str(top + 10, " - ", y, " = ", top + 10 - y, " borrow 1");
      borrow = 1;
    } else {
      s += str(top, " - ", y, " = ", top - y);
      borrow = 0;
    }
  }
  return s;
}

// Multiplication of a by one digit d, least significant digit first, with carries:
// "7 * 6 = 42 carry 4, 4 * 6 + 4 = 28".
std::string mul_digit_trace(int64_t a, int64_t d) {
  std::string s;
  const std::string da = digits_of(a);
  int64_t carry = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    const int64_t x = da[da.size() - 1 - i] - '0';
    const int64_t p = x * d + carry;
    if (!s.empty()) s += ", ";
    s += str(x, " * ", d);
    if (carry) s += str(" + ", carry);
    s += str(" = ", p);
    carry = p / 10;
    if (carry && i + 1 < da.size()) s += str(" carry ", carry);
  }
  return s;
}

}  // namespace

std::string arith_trace(int64_t a, char op, int64_t b) {
  int64_t r = op == '+' ? a + b : op == '-' ? a - b : a * b;
  std::string t;
  if (op == '+') {
    t = add_trace(a, b);
  } else if (op == '-') {
    if (a >= b) {
      t = sub_trace(a, b);
    } else {
      t = str(a, " < ", b, " so compute ", b, " - ", a, ": ", sub_trace(b, a), ", negate");
    }
  } else {
    // Long multiplication by the ones digit, then the tens digit (shifted), then their
    // column sum: every step is a one-digit product or sum a small model can learn.
    const int64_t ones = b % 10, tens = b / 10;
    t = str(a, " * ", ones, ": ", mul_digit_trace(a, ones), ", so ", a * ones, ". ");
    if (tens > 0) {
      t += str(a, " * ", tens, ": ", mul_digit_trace(a, tens), ", so ", a * tens, ", shifted ",
               a * tens * 10, ". ", a * ones, " + ", a * tens * 10, ": ",
               add_trace(a * ones, a * tens * 10), ".");
    }
    while (!t.empty() && (t.back() == ' ' || t.back() == '.')) t.pop_back();
  }
  return str(" <think> ", t, ". So ", a, " ", op, " ", b, " = ", r, " </think> <answer> ", r,
             " </answer>");
}

std::vector<GeneratedRow> make_arith(int64_t n, uint64_t seed) {
  GRPO_ENSURE(n >= 0, "make-data arith: --n must be >= 0, got ", n);
  Rng rng{seed * 0xD1B54A32D192ED03ull + 0xA5};
  std::vector<GeneratedRow> out;
  out.reserve(static_cast<size_t>(n));
  static const char kOps[3] = {'+', '-', '*'};
  for (int64_t i = 0; i < n; ++i) {
    char op = kOps[rng.next() % 3];
    int64_t a, b;
    if (op == '*') {
      a = rng.uniform(10, 99);
      b = rng.uniform(10, 99);
    } else {
      a = rng.uniform(100, 999);
      b = rng.uniform(100, 999);
    }
    int64_t r = op == '+' ? a + b : op == '-' ? a - b : a * b;
    GeneratedRow g;
    g.row = {{"prompt", str("What is ", a, " ", op, " ", b, "?")}, {"answer", std::to_string(r)}};
    g.completion = arith_trace(a, op, b);
    out.push_back(std::move(g));
  }
  return out;
}

std::optional<CountdownSolution> solve_countdown(const std::vector<int64_t>& nums, int64_t target) {
  struct Item {
    int64_t v;
    std::string expr;
    bool atom;
  };
  std::vector<Item> items;
  for (int64_t x : nums) items.push_back({x, std::to_string(x), true});
  std::vector<CountdownStep> steps;
  std::optional<CountdownSolution> found;
  auto wrap = [](const Item& it) { return it.atom ? it.expr : "(" + it.expr + ")"; };
  std::function<bool(std::vector<Item>&)> rec = [&](std::vector<Item>& cur) -> bool {
    if (cur.size() == 1) {
      if (cur[0].v == target) {
        found = CountdownSolution{cur[0].expr, steps};
        return true;
      }
      return false;
    }
    for (size_t i = 0; i < cur.size(); ++i) {
      for (size_t j = 0; j < cur.size(); ++j) {
        if (i == j) continue;
        const Item a = cur[i], b = cur[j];
        for (char op : {'+', '-', '*', '/'}) {
          if ((op == '+' || op == '*') && i > j) continue;  // commutative: one order
          int64_t v;
          if (op == '+') v = a.v + b.v;
          else if (op == '-') { if (a.v < b.v) continue; v = a.v - b.v; }
          else if (op == '*') v = a.v * b.v;
          else { if (b.v == 0 || a.v % b.v != 0) continue; v = a.v / b.v; }
          std::vector<Item> next;
          for (size_t k = 0; k < cur.size(); ++k) {
            if (k != i && k != j) next.push_back(cur[k]);
          }
          next.push_back({v, wrap(a) + " " + op + " " + wrap(b), false});
          steps.push_back({a.v, b.v, v, op});
          if (rec(next)) return true;
          steps.pop_back();
        }
      }
    }
    return false;
  };
  rec(items);
  return found;
}

std::string countdown_trace(const CountdownSolution& s) {
  std::string t;
  for (const auto& st : s.steps) {
    if (!t.empty()) t += ", ";
    t += str(st.a, " ", st.op, " ", st.b, " = ", st.result);
  }
  return str(" <think> ", t, " </think> <answer> ", s.expression, " </answer>");
}

std::vector<GeneratedRow> make_countdown(int64_t n, uint64_t seed) {
  GRPO_ENSURE(n >= 0, "make-data countdown: --n must be >= 0, got ", n);
  Rng rng{seed * 0xD1B54A32D192ED03ull + 0xC0};
  std::vector<GeneratedRow> out;
  out.reserve(static_cast<size_t>(n));
  while (static_cast<int64_t>(out.size()) < n) {
    int64_t k = 3 + static_cast<int64_t>(rng.next() % 2);
    std::vector<int64_t> nums;
    for (int64_t i = 0; i < k; ++i) nums.push_back(rng.uniform(1, 99));
    int64_t target = rng.uniform(1, 100);
    auto sol = solve_countdown(nums, target);
    if (!sol) continue;
    GeneratedRow g;
    g.row = {{"nums", nums}, {"target", target}};
    g.completion = countdown_trace(*sol);
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace grpo::data
