// End to end against Pebble, Let's Encrypt's ACME test server (Debian package `pebble`):
// issuance with HTTP-01, renewal, a failing challenge and unreachable or wrong directories.
//
// Each test starts its own pebble-challtestsrv (a DNS server answering 127.0.0.1 for every
// name) and pebble on free loopback ports, with PEBBLE_VA_NOSLEEP=1 and a raised nonce
// rejection rate so the client's badNonce retry is exercised. Both are killed by PID.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "acme/client.h"
#include "acme/jws.h"
#include "acme/store.h"

namespace slipway::acme {
namespace {

using namespace std::chrono_literals;

// A free port on 127.0.0.1 this test has not been given before: the kernel may hand a closed
// ephemeral port out again, and Pebble's five ports must differ.
int FreePort() {
  static std::set<int> handed_out;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    const bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    if (fd >= 0) close(fd);
    if (bound && handed_out.insert(ntohs(a.sin_port)).second) return ntohs(a.sin_port);
  }
  return 0;
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// A child process started by PID and stopped by PID (SIGTERM, then SIGKILL after 5 s).
class Child {
 public:
  bool Start(std::vector<std::string> argv, const std::vector<std::string>& env,
             const std::string& log) {
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
      FILE* f = freopen(log.c_str(), "w", stdout);
      if (f) dup2(fileno(stdout), 2);
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    return true;
  }
  bool Running() {
    if (pid_ <= 0) return false;
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  ~Child() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// The end of a log file, for failure messages.
std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  std::string all(std::istreambuf_iterator<char>(in), {});
  return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
}

// Presents a wrong key authorization: Pebble must refuse the challenge.
class WrongAnswer final : public ChallengeResponder {
 public:
  explicit WrongAnswer(ChallengeResponder* inner) : inner_(inner) {}
  Status Present(const std::string& domain, const std::string& token,
                 const std::string& key_authorization) override {
    return inner_->Present(domain, token, token + ".not-the-account-thumbprint");
  }
  void CleanUp(const std::string& token) override { inner_->CleanUp(token); }

 private:
  ChallengeResponder* inner_;
};

class PebbleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/pebble", X_OK) != 0 || access("/usr/bin/pebble-challtestsrv", X_OK) != 0) {
      GTEST_FAIL() << "pebble is not installed (scripts/install-deps.sh installs it)";
    }
    char tmpl[] = "/tmp/slipway-pebble-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(std::system(("cd " + dir_ +
                           " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                           "-nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=localhost "
                           "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1")
                              .c_str()),
              0);
    ASSERT_TRUE(responder_.Start("127.0.0.1", 0).ok());
    dns_port_ = FreePort();
    const int dns_mgmt = FreePort();
    listen_port_ = FreePort();
    mgmt_port_ = FreePort();
    const int tls_port = FreePort();
    ASSERT_TRUE(dns_.Start(
        {"/usr/bin/pebble-challtestsrv", "-dns01", "127.0.0.1:" + std::to_string(dns_port_),
         "-http01", "", "-https01", "", "-tlsalpn01", "", "-management",
         "127.0.0.1:" + std::to_string(dns_mgmt), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""},
        {}, dir_ + "/challtestsrv.log"));
    std::ofstream(dir_ + "/pebble.json")
        << R"({"pebble":{"listenAddress":"127.0.0.1:)" << listen_port_
        << R"(","managementListenAddress":"127.0.0.1:)" << mgmt_port_ << R"(","certificate":")"
        << dir_ << R"(/cert.pem","privateKey":")" << dir_ << R"(/key.pem","httpPort":)"
        << responder_.port() << R"(,"tlsPort":)" << tls_port
        << R"(,"ocspResponderURL":"","externalAccountBindingRequired":false}})";
    ASSERT_TRUE(pebble_.Start({"/usr/bin/pebble", "-config", dir_ + "/pebble.json", "-dnsserver",
                               "127.0.0.1:" + std::to_string(dns_port_)},
                              {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=30"},
                              dir_ + "/pebble.log"));
    // Ready when the directory answers (bounded: 15 s).
    tlsclient::HttpsClient http(Tls());
    tlsclient::HttpsRequest req;
    req.url = DirectoryUrl();
    req.timeout = Duration(2000);
    bool ready = false;
    for (int i = 0; i < 150 && !ready; ++i) {
      auto r = http.Do(req);
      ready = r.ok() && r->status == 200 && CanConnect(dns_mgmt);
      if (!ready) std::this_thread::sleep_for(100ms);
      ASSERT_TRUE(pebble_.Running()) << ReadFile(dir_ + "/pebble.log");
    }
    ASSERT_TRUE(ready) << ReadFile(dir_ + "/pebble.log") << ReadFile(dir_ + "/challtestsrv.log");
  }
  void TearDown() override {
    pebble_.Stop();
    dns_.Stop();
    responder_.Stop();
    std::filesystem::remove_all(dir_);
  }

  tlsclient::TlsClientOptions Tls() const {
    tlsclient::TlsClientOptions o;
    o.ca_file = dir_ + "/cert.pem";
    return o;
  }
  std::string DirectoryUrl() const {
    return "https://127.0.0.1:" + std::to_string(listen_port_) + "/dir";
  }
  AcmeOptions Options(std::string directory) const {
    AcmeOptions o;
    o.directory_url = std::move(directory);
    o.contact = {"mailto:ops@slipway.test"};
    o.tls = Tls();
    o.poll_interval = Duration(100);
    o.order_timeout = Duration(60'000);
    o.request_timeout = Duration(10'000);
    return o;
  }
  std::string PebbleRoot() {
    tlsclient::HttpsClient http(Tls());
    tlsclient::HttpsRequest req;
    req.url = "https://127.0.0.1:" + std::to_string(mgmt_port_) + "/roots/0";
    req.timeout = Duration(5000);
    auto r = http.Do(req);
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().message());
    return r.ok() ? r->body : "";
  }

  std::string dir_;
  Http01Server responder_;
  Child dns_, pebble_;
  int dns_port_ = 0, listen_port_ = 0, mgmt_port_ = 0;
};

int Mode(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST_F(PebbleTest, IssuesAVerifiableChainAndRenewalReplacesIt) {
  CertStore store(dir_ + "/state/certs");
  const std::vector<std::string> names = {"app.slipway.test", "www.slipway.test"};
  auto account = EcKey::LoadOrCreate(store.AccountKeyPath(DirectoryUrl()));
  ASSERT_TRUE(account.ok()) << account.status().message();
  EXPECT_EQ(Mode(store.AccountKeyPath(DirectoryUrl())), 0600);

  AcmeClient client(Options(DirectoryUrl()), std::move(account).value());
  auto key1 = EcKey::Generate();
  ASSERT_TRUE(key1.ok());
  auto first = client.Issue(names, *key1, &responder_);
  ASSERT_TRUE(first.ok()) << first.status().message() << "\n" << ReadFile(dir_ + "/pebble.log");
  EXPECT_FALSE(client.account_url().empty());
  EXPECT_EQ(responder_.table().size(), 0u) << "tokens are cleaned up";
  ASSERT_TRUE(store.Save(names, first->chain_pem, *key1).ok());
  EXPECT_EQ(Mode(store.FolderFor(names[0]) + "/cert.pem"), 0600);
  EXPECT_EQ(Mode(store.FolderFor(names[0]) + "/key.pem"), 0600);

  const std::string root = PebbleRoot();
  ASSERT_FALSE(root.empty());
  EXPECT_GE(CountCertificates(first->chain_pem), 2u) << "leaf and intermediate";
  for (const std::string& n : names) {
    Status v = VerifyChain(first->chain_pem, root, n);
    EXPECT_TRUE(v.ok()) << v.message();
  }
  EXPECT_FALSE(VerifyChain(first->chain_pem, root, "other.slipway.test").ok());
  auto stored = store.Load(names[0]);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->chain_pem, first->chain_pem);

  // Renewal: a second order for the same names with a new key replaces the stored pair.
  auto key2 = EcKey::Generate();
  ASSERT_TRUE(key2.ok());
  auto second = client.Issue(names, *key2, &responder_);
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_TRUE(store.Save(names, second->chain_pem, *key2).ok());
  stored = store.Load(names[0]);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->chain_pem, second->chain_pem);
  EXPECT_NE(second->chain_pem, first->chain_pem);
  auto reloaded_key = EcKey::FromPem(stored->key_pem, "key.pem");
  ASSERT_TRUE(reloaded_key.ok());
  EXPECT_TRUE(LeafMatchesKey(stored->chain_pem, *reloaded_key));
  EXPECT_FALSE(LeafMatchesKey(stored->chain_pem, *key1));
  EXPECT_TRUE(VerifyChain(stored->chain_pem, root, names[1]).ok());

  // With 30 % of nonces rejected over some 20 requests, the retry path has run.
  EXPECT_GT(client.bad_nonce_retries(), 0);
  RecordProperty("bad_nonce_retries", client.bad_nonce_retries());
}

TEST_F(PebbleTest, FailingChallengeCarriesPebblesProblemDetail) {
  auto account = EcKey::Generate();
  ASSERT_TRUE(account.ok());
  AcmeClient client(Options(DirectoryUrl()), std::move(account).value());
  auto key = EcKey::Generate();
  WrongAnswer wrong(&responder_);
  auto r = client.Issue({"bad.slipway.test"}, *key, &wrong);
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  RecordProperty("error", msg);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("http-01 challenge for bad.slipway.test failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(unauthorized)"), std::string::npos) << msg;
  // Pebble's own words about the mismatch.
  EXPECT_NE(msg.find("key authorization"), std::string::npos) << msg;
  EXPECT_EQ(responder_.table().size(), 0u);
}

TEST_F(PebbleTest, BadDirectoryAndUnreachableServerFailInOneLine) {
  auto key = EcKey::Generate();
  ASSERT_TRUE(key.ok());
  auto account = EcKey::Generate();
  ASSERT_TRUE(account.ok());

  AcmeClient wrong_path(Options("https://127.0.0.1:" + std::to_string(listen_port_) + "/nope"),
                        EcKey::FromPem(*account->PrivatePem(), "a").value());
  auto r = wrong_path.Issue({"x.slipway.test"}, *key, &responder_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("HTTP 404 instead of a directory"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);

  const int closed = FreePort();
  AcmeClient unreachable(Options("https://127.0.0.1:" + std::to_string(closed) + "/dir"),
                         EcKey::FromPem(*account->PrivatePem(), "a").value());
  r = unreachable.Issue({"x.slipway.test"}, *key, &responder_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(
      r.status().message().find("ACME directory: https://127.0.0.1:" + std::to_string(closed)),
      std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);

  // Pebble's certificate is not in the system store.
  AcmeOptions system_trust = Options(DirectoryUrl());
  system_trust.tls = {};
  AcmeClient untrusted(system_trust, EcKey::FromPem(*account->PrivatePem(), "a").value());
  r = untrusted.Issue({"x.slipway.test"}, *key, &responder_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().message();

  // Names are checked before anything is sent.
  AcmeClient client(Options(DirectoryUrl()), std::move(account).value());
  EXPECT_EQ(client.Issue({"Bad Name"}, *key, &responder_).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(client.Issue({"a.slipway.test", "a.slipway.test"}, *key, &responder_).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(client.Issue({}, *key, &responder_).status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace slipway::acme
