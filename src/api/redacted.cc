#include "api/redacted.h"

namespace slipway::api {

using nlohmann::json;

namespace {

json RedactString(std::string_view name, const std::string& s, const Redactor& r) {
  if (!name.empty()) return r.Value(name, s);
  size_t eq = s.find('=');
  if (eq != std::string::npos && eq > 0) {
    return s.substr(0, eq + 1) + r.Value(std::string_view(s).substr(0, eq), s.substr(eq + 1));
  }
  return r.Scrub(s);
}

json Walk(std::string_view name, const json& j, const Redactor& r) {
  if (j.is_string()) return RedactString(name, j.get_ref<const std::string&>(), r);
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : j.items()) out[k] = Walk(k, v, r);
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const json& v : j) out.push_back(Walk({}, v, r));
    return out;
  }
  return j;
}

}  // namespace

json Redacted(const json& j, const Redactor* redactor) {
  if (redactor == nullptr) return j;
  return Walk({}, j, *redactor);
}

}  // namespace slipway::api
