#include "tlsclient/https_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <strings.h>
#include <unistd.h>

#include <memory>
#include <mutex>

namespace slipway::tlsclient {

namespace {

void GlobalInit() {
  // curl_global_init is not thread-safe; once per process, before any handle.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Collect {
  HttpsResponse* resp;
  bool too_big = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Collect*>(user);
  const size_t len = size * n;
  if (c->resp->body.size() + len > HttpsClient::kMaxBody) {
    c->too_big = true;
    return 0;  // aborts the transfer
  }
  c->resp->body.append(data, len);
  return len;
}

// Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
               curl_off_t /*ulnow*/) {
  const auto* cancel = static_cast<const CancelSignal*>(user);
  return cancel->raised() ? 1 : 0;
}

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};

// The transfer of `h` through a multi handle whose poll the cancel signal interrupts
// (curl_multi_wakeup from the raising thread), so a cancel ends it at once instead of at the
// progress callback's next call (once a second while nothing moves). The easy handle's own
// timeouts bound it as in curl_easy_perform.
CURLcode PerformCancellable(CURL* h, const CancelSignal& cancel) {
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!multi) return CURLE_OUT_OF_MEMORY;
  CURLM* m = multi.get();
  if (curl_multi_add_handle(m, h) != CURLM_OK) return CURLE_FAILED_INIT;
  const uint64_t waker = cancel.AddWaker([m] { curl_multi_wakeup(m); });
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    if (cancel.raised()) {
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    int running = 0;
    if (curl_multi_perform(m, &running) != CURLM_OK) {
      result = CURLE_RECV_ERROR;
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    if (running == 0) {  // ended without a result: not expected from libcurl
      result = CURLE_RECV_ERROR;
      break;
    }
    // Returns on socket activity, libcurl's own next timeout, or the waker; 1 s at most.
    if (curl_multi_poll(m, nullptr, 0, 1000, nullptr) != CURLM_OK) {
      result = CURLE_RECV_ERROR;
      break;
    }
  }
  cancel.RemoveWaker(waker);  // before the multi handle goes: the waker uses it
  curl_multi_remove_handle(m, h);
  return result;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Collect*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    c->resp->headers.clear();  // a new response (after 1xx or a redirect): keep the last one
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  c->resp->headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return len;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

Status CheckReadable(const std::string& path, std::string_view what) {
  if (path.empty()) return Status::OK();
  if (access(path.c_str(), R_OK) != 0) {
    return InvalidInput(fmt::format("{} {} is not readable", what, path));
  }
  return Status::OK();
}

}  // namespace

const std::string* HttpsResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

std::string OriginOf(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "(not a URL)";
  std::string_view scheme = url.substr(0, scheme_end);
  std::string_view rest = url.substr(scheme_end + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  return fmt::format("{}://{}", scheme, authority);
}

HttpsClient::HttpsClient(TlsClientOptions options) : options_(std::move(options)) {}

Status HttpsClient::Validate() const {
  RETURN_IF_ERROR(CheckReadable(options_.ca_file, "CA file"));
  RETURN_IF_ERROR(CheckReadable(options_.client_cert, "client certificate"));
  RETURN_IF_ERROR(CheckReadable(options_.client_key, "client key"));
  if (options_.client_cert.empty() != options_.client_key.empty()) {
    return InvalidInput("a client certificate needs its key (client_cert and client_key)");
  }
  return Status::OK();
}

Result<HttpsResponse> HttpsClient::Do(const HttpsRequest& req) const {
  const std::string origin = OriginOf(req.url);
  if (req.url.rfind("https://", 0) != 0 && req.url.rfind("http://", 0) != 0) {
    return InvalidInput(fmt::format("{}: not an http:// or https:// URL", origin));
  }
  if (req.timeout.count() <= 0) return InvalidInput("HTTPS request without a timeout");
  RETURN_IF_ERROR(Validate());
  GlobalInit();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  CURL* h = curl.get();
  HttpsResponse resp;
  Collect collect{&resp};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from a worker thread
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  }
  if (!options_.client_cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, options_.client_cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEY, options_.client_key.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &collect);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &collect);
  if (req.cancel != nullptr) {
    if (req.cancel->raised()) return Aborted(fmt::format("{}: cancelled", origin));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<CancelSignal*>(req.cancel));
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  bool has_ua = false;
  for (const auto& [k, v] : req.headers) {
    if (strcasecmp(k.c_str(), "User-Agent") == 0) has_ua = true;
    headers.reset(curl_slist_append(headers.release(), fmt::format("{}: {}", k, v).c_str()));
  }
  if (!has_ua) headers.reset(curl_slist_append(headers.release(), "User-Agent: slipway"));
  // No "Expect: 100-continue" round trip for bodies.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }

  CURLcode rc = req.cancel != nullptr ? PerformCancellable(h, *req.cancel) : curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (collect.too_big) {
      return Unavailable(fmt::format("{}: response body larger than {} bytes", origin, kMaxBody));
    }
    // errbuf names hosts, ports and TLS reasons, never the path: safe to show.
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Aborted(fmt::format("{}: cancelled", origin));
    Status st = rc == CURLE_OPERATION_TIMEDOUT ? DeadlineExceeded("") : Unavailable("");
    return Status(st.code(), fmt::format("{}: {}", origin, why));
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  resp.status = static_cast<int>(code);
  return resp;
}

}  // namespace slipway::tlsclient
