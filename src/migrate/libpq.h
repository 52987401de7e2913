// LibPq: the PostgreSQL client library, loaded with dlopen on first use.
//
// libpq pulls in Kerberos, LDAP, SASL and GnuTLS. Linked into the binary, all of them would be
// loaded and relocated by every slipway process — each CLI command and the daemon at idle —
// although only migrations, backups and database probes talk to PostgreSQL. Loaded on first
// use, they cost nothing until then. The functions are libpq's own, with the declarations of
// libpq-fe.h; the table is filled once and never changes.
//
// Thread-safe: any thread may call GetLibPq(); the first call loads the library.
#pragma once

#include <libpq-fe.h>

#include "base/status.h"

namespace slipway::migrate {

struct LibPq {
  decltype(&::PQconnectdbParams) connectdbParams;
  decltype(&::PQstatus) status;
  decltype(&::PQerrorMessage) errorMessage;
  decltype(&::PQfinish) finish;
  decltype(&::PQsetNoticeProcessor) setNoticeProcessor;
  decltype(&::PQexec) exec;
  decltype(&::PQexecParams) execParams;
  decltype(&::PQresultStatus) resultStatus;
  decltype(&::PQresultErrorField) resultErrorField;
  decltype(&::PQresultErrorMessage) resultErrorMessage;
  decltype(&::PQclear) clear;
  decltype(&::PQputCopyEnd) putCopyEnd;
  decltype(&::PQgetResult) getResult;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQnfields) nfields;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQdb) db;
  decltype(&::PQconninfoParse) conninfoParse;
  decltype(&::PQconninfoFree) conninfoFree;
  decltype(&::PQfreemem) freemem;
};

// The loaded library, or Unavailable naming what is missing (the package to install).
Result<const LibPq*> GetLibPq();

}  // namespace slipway::migrate
