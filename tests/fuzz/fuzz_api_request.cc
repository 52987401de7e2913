// Fuzzes the admin API's request reading (api/fields.h): a body through ParseJsonObject and
// every BodyFields accessor, and a query string through QueryFields. Nothing may throw,
// crash or leak; a failed read must leave an InvalidInput that names a field.
#include <string>

#include "api/fields.h"
#include "fuzz_common.h"

using slipway::StatusCode;
using slipway::http::fuzz::Require;
using namespace slipway::api;

namespace {

void ReadEverything(BodyFields& f) {
  // The field names the routes use, read with every accessor so each type meets each value.
  for (const char* key : {"services", "service", "to", "load", "env", "wait", "percent"}) {
    (void)f.Has(key);
    (void)f.String(key, "a string");
    (void)f.Bool(key, false);
    (void)f.Int(key, 0, -5, 1'000'000, "an integer");
    (void)f.StringList(key, "a list");
    (void)f.StringMap(key, "a map");
    (void)f.Raw(key);
  }
  BodyFields nested(f.Object("load", "an object"), "load.");
  (void)nested.StringList("files", "a list");
  (void)nested.StringMap("environ", "a map");
  f.Merge(nested);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto body = ParseJsonObject(in);
  if (body.ok()) {
    Require(body->is_object());
    BodyFields f(*body);
    ReadEverything(f);
    slipway::Status st = f.Finish();
    Require(st.ok() || (st.code() == StatusCode::kInvalidInput && !st.message().empty()));
  } else {
    Require(body.status().code() == StatusCode::kInvalidInput);
  }
  slipway::http::Request req;
  req.target = "/x?" + std::string(in);
  QueryFields q(req);
  (void)q.String("env");
  (void)q.Int("limit", 1, 0, 100);
  (void)q.Bool("follow", false);
  (void)q.List("services");
  Require(q.status().ok() || q.status().code() == StatusCode::kInvalidInput);
  auto decoded = PercentDecode(in, true);
  Require(decoded.ok() || decoded.status().code() == StatusCode::kInvalidInput);
  return 0;
}
