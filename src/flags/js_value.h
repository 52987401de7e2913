// JavaScript value semantics over JSON values, as JsonLogic (and so flagd) defines them.
//
// JsonLogic rules are specified by their JavaScript reference implementation: truthiness
// (an empty array is falsy), loose `==`, relational comparison of strings vs numbers, and
// String()/Number() conversions. These pure functions reproduce that on nlohmann::json so
// the compiled evaluator (json_logic.h) and flag evaluation agree with flagd's SDKs.
// Stateless; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace slipway::flags {

using Json = nlohmann::json;

// JsonLogic truthiness: false, null, 0, NaN, "" and [] are falsy; everything else is truthy.
bool Truthy(const Json& v);

// JavaScript Number(v): null -> 0, bools -> 0/1, numeric strings parsed (trimmed, "" -> 0),
// [] -> 0, [x] -> Number(String(x)), anything else NaN.
double ToNumber(const Json& v);

// JavaScript String(v): numbers in shortest round-trip form without a trailing ".0",
// arrays joined by "," (null elements empty), objects "[object Object]".
std::string ToJsString(const Json& v);
void AppendJsString(const Json& v, std::string* out);
std::string NumberToJsString(double d);

// `==` and `===` of JavaScript for JSON values (arrays/objects are never equal: JSON
// values have no identity).
bool LooseEquals(const Json& a, const Json& b);
bool StrictEquals(const Json& a, const Json& b);

// a < b and a <= b with JavaScript's relational rules (strings compare as strings when
// both are strings, otherwise numerically; NaN compares false).
bool LessThan(const Json& a, const Json& b);
bool LessOrEqual(const Json& a, const Json& b);

}  // namespace slipway::flags
