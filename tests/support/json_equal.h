// Structural JSON equality for tests: objects compare order-insensitively, arrays by position,
// and numbers (whatever their JSON kind) through `same_number`.
#pragma once

#include <boost/json/value.hpp>

namespace opsorch::testing {

template <class NumberEq>
bool JsonEqualWith(const boost::json::value& a, const boost::json::value& b,
                   const NumberEq& same_number) {
  if (a.is_number() && b.is_number()) {
    return same_number(a.to_number<double>(), b.to_number<double>());
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const auto* other = y.if_contains(kv.key());
      if (other == nullptr || !JsonEqualWith(kv.value(), *other, same_number)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!JsonEqualWith(x[i], y[i], same_number)) return false;
    }
    return true;
  }
  return a == b;
}

// Numbers compare by value (1 == 1.0).
inline bool JsonEqual(const boost::json::value& a, const boost::json::value& b) {
  return JsonEqualWith(a, b, [](double x, double y) { return x == y; });
}

}  // namespace opsorch::testing
