#include "migrate/libpq.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace slipway::migrate {
namespace {

template <typename Fn>
bool Bind(void* handle, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(handle, name));
  if (*out == nullptr && missing->empty()) *missing = name;
  return *out != nullptr;
}

Result<const LibPq*> Load() {
  // The SONAME Debian's libpq5 ships; libpq-dev adds only the unversioned link name.
  void* h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* why = dlerror();
    return Unavailable(std::string("PostgreSQL client library not found (install libpq5): ") +
                       (why != nullptr ? why : "dlopen failed"));
  }
  static LibPq lib;  // filled once under the call_once below; never unloaded
  std::string missing;
  Bind(h, "PQconnectdbParams", &lib.connectdbParams, &missing);
  Bind(h, "PQstatus", &lib.status, &missing);
  Bind(h, "PQerrorMessage", &lib.errorMessage, &missing);
  Bind(h, "PQfinish", &lib.finish, &missing);
  Bind(h, "PQsetNoticeProcessor", &lib.setNoticeProcessor, &missing);
  Bind(h, "PQexec", &lib.exec, &missing);
  Bind(h, "PQexecParams", &lib.execParams, &missing);
  Bind(h, "PQresultStatus", &lib.resultStatus, &missing);
  Bind(h, "PQresultErrorField", &lib.resultErrorField, &missing);
  Bind(h, "PQresultErrorMessage", &lib.resultErrorMessage, &missing);
  Bind(h, "PQclear", &lib.clear, &missing);
  Bind(h, "PQputCopyEnd", &lib.putCopyEnd, &missing);
  Bind(h, "PQgetResult", &lib.getResult, &missing);
  Bind(h, "PQntuples", &lib.ntuples, &missing);
  Bind(h, "PQnfields", &lib.nfields, &missing);
  Bind(h, "PQgetisnull", &lib.getisnull, &missing);
  Bind(h, "PQgetvalue", &lib.getvalue, &missing);
  Bind(h, "PQgetlength", &lib.getlength, &missing);
  Bind(h, "PQdb", &lib.db, &missing);
  Bind(h, "PQconninfoParse", &lib.conninfoParse, &missing);
  Bind(h, "PQconninfoFree", &lib.conninfoFree, &missing);
  Bind(h, "PQfreemem", &lib.freemem, &missing);
  if (!missing.empty()) {
    return Unavailable("the PostgreSQL client library lacks " + missing + " (too old?)");
  }
  return &lib;
}

}  // namespace

Result<const LibPq*> GetLibPq() {
  static std::once_flag once;
  static Result<const LibPq*>* loaded = nullptr;  // leaked on purpose: read at any time
  std::call_once(once, [] { loaded = new Result<const LibPq*>(Load()); });
  return *loaded;
}

}  // namespace slipway::migrate
