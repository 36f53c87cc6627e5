// rewards/math_algebra.h (private to rewards/): exact and numeric evaluation of the
// arithmetic part of an Expr tree (rewards/math_expr.h) for the equivalence checker.
//
// Symbolic: a tree becomes a rational function num/den whose polynomials have exact
// rational coefficients (128-bit, checked: an overflow gives up to the numeric path) over
// a canonical basis: a square root of a squarefree integer times a monomial of atoms.
// Atoms are variables, pi, e, and "opaque" atoms for what is not simplified (sin(x), a
// cube root of 2, 2^x, ...). Square roots of distinct squarefree integers are linearly
// independent over Q, and variables, pi and e are treated as independent, so without
// opaque atoms a zero difference a.num*b.den - b.num*a.den decides equality both ways.
// Radicals are reduced (sqrt(12) = 2 sqrt(3), sqrt(1/2) = sqrt(2)/2, 8^(1/3) = 2) and
// simple nested ones denested (sqrt(3 + 2 sqrt(2)) = 1 + sqrt(2)).
// Numeric: long double evaluation with variables bound to given values.
// Pure functions; thread-safe.
#pragma once
#include <map>
#include <set>
#include <string>

#include "rewards/math_expr.h"

namespace grpo::rewards::math {

enum class SymbolicVerdict { kEqual, kNotEqual, kUnknown };

// Decides a == b symbolically when it can; kUnknown when an opaque atom is involved, a
// number overflows 128 bits, or a tree is not arithmetic (tuples, sets, infinity, ...).
SymbolicVerdict symbolic_equal(const Expr& a, const Expr& b);

// Both a - b == 0 and a + b == 0 tested (for equations compared up to a sign).
SymbolicVerdict symbolic_equal_up_to_sign(const Expr& a, const Expr& b);

// Value of an arithmetic tree with variables from `vars` (missing ones: NaN). pi and e
// are the constants; "infty" is +infinity. NaN for structure nodes.
long double evaluate(const Expr& e, const std::map<std::string, long double>& vars);

// Names of the variables of a tree (symbols other than pi, e, infty).
void collect_variables(const Expr& e, std::set<std::string>& out);

}  // namespace grpo::rewards::math
