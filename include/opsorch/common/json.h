// The one JSON value type is Boost.JSON's; free-form objects (`obj` in the contract) are kept as
// boost::json::object, string maps (`smap`) as a sorted std::map.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace opsorch {

using JsonValue = boost::json::value;
using JsonObject = boost::json::object;
using JsonArray = boost::json::array;
using StringMap = std::map<std::string, std::string>;

// A list that the wire format distinguishes from an empty one: absent/nil encodes as `null`.
template <class T>
using NullableList = std::optional<std::vector<T>>;

}  // namespace opsorch
