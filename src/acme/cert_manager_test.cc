#include "acme/cert_manager.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "acme/certs.h"
#include "acme/tls_alpn.h"

namespace slipway::acme {
namespace {

// Issues a self-signed certificate for the key (valid from now - 1 h for 7 days, the
// validation certificate's shape), or fails with `error` while it is set.
class FakeIssuer final : public Issuer {
 public:
  explicit FakeIssuer(Clock* clock) : clock_(clock) {}
  Result<IssuedCert> Issue(const std::vector<std::string>& names, const EcKey& key,
                           ChallengeResponder* responder) override {
    calls++;
    last_names = names;
    if (!error.empty()) return Unavailable(error);
    // Touch the responder as a CA's validation would.
    RETURN_IF_ERROR(responder->Present(names[0], "tok", "tok.thumb"));
    responder->CleanUp("tok");
    ASSIGN_OR_RETURN(std::string pem,
                     MakeTlsAlpnCertificate(names[0], "ka", key, clock_->WallMillis() / 1000));
    IssuedCert c;
    c.chain_pem = pem;
    ASSIGN_OR_RETURN(c.info, InspectLeaf(pem));
    return c;
  }
  std::atomic<int> calls{0};
  std::vector<std::string> last_names;
  std::string error;

 private:
  Clock* clock_;
};

constexpr int64_t kHour = 3600 * 1000;

struct Fixture {
  std::filesystem::path dir;
  FakeClock clock{std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()};
  std::shared_ptr<FakeIssuer> issuer = std::make_shared<FakeIssuer>(&clock);
  std::vector<CertEvent> events;
  std::unique_ptr<CertManager> manager;

  Fixture() {
    char tmpl[] = "/tmp/cert_manager_test.XXXXXX";
    dir = mkdtemp(tmpl);
    manager = Make();
  }
  ~Fixture() {
    manager.reset();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<CertManager> Make() {
    CertManagerOptions o;
    o.clock = &clock;
    o.seed = 7;
    o.post = [](std::function<void()> f) { f(); };
    o.on_event = [this](const CertEvent& e) { events.push_back(e); };
    return std::make_unique<CertManager>(o, issuer, CertStore((dir / "certs").string()));
  }
  CertStatusRow Row(const std::string& name) {
    for (const CertStatusRow& r : manager->Rows()) {
      if (r.name == name) return r;
    }
    ADD_FAILURE() << "no status row for " << name;
    return {};
  }
};

TEST(CertManagerTest, FirstIssueSavesAndReportsThenWaits) {
  Fixture f;
  f.manager->SetNames({"app.test"});
  EXPECT_EQ(f.Row("app.test").state, CertState::kPending);
  const int64_t next = f.manager->RunDue();
  ASSERT_EQ(f.issuer->calls, 1);
  EXPECT_EQ(f.issuer->last_names, std::vector<std::string>{"app.test"});
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].kind, CertEventKind::kIssued);
  EXPECT_EQ(CertEventKindName(f.events[0].kind), "cert-issued");
  EXPECT_EQ(f.events[0].reason, RenewalReason::kNoCertificate);
  EXPECT_EQ(f.events[0].cert_path, (f.dir / "certs/app.test/cert.pem").string());
  struct stat st {};
  ASSERT_EQ(stat(f.events[0].key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The stored pair is what was issued and matches.
  Result<StoredCert> stored = CertStore((f.dir / "certs").string()).Load("app.test");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(stored->info.dns_names, std::vector<std::string>{"app.test"});
  CertStatusRow row = f.Row("app.test");
  EXPECT_EQ(row.state, CertState::kValid);
  EXPECT_EQ(row.plan, RenewalReason::kNotDue);
  EXPECT_EQ(row.not_after_ms, stored->info.not_after_ms);
  // Next: 2/3 of the lifetime, at most lifetime/20 later (jitter).
  const int64_t lifetime = stored->info.not_after_ms - stored->info.not_before_ms;
  EXPECT_GE(next, stored->info.not_before_ms + lifetime * 2 / 3);
  EXPECT_LE(next, stored->info.not_before_ms + lifetime * 2 / 3 + lifetime / 20);
  EXPECT_EQ(f.manager->Certificates().count("app.test"), 1u);
  // Nothing more until then.
  f.clock.AdvanceForTest(Duration(kHour));
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 1);
  EXPECT_EQ(f.events.size(), 1u);
}

TEST(CertManagerTest, RenewsWhenDueAndReplacesTheStoredPair) {
  Fixture f;
  f.manager->SetNames({"app.test"});
  const int64_t due = f.manager->RunDue();
  const std::string first = CertStore((f.dir / "certs").string()).Load("app.test")->chain_pem;
  f.clock.AdvanceForTest(Duration(due - f.clock.WallMillis() - 1000));
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 1) << "one second before the plan";
  f.clock.AdvanceForTest(Duration(1000));
  f.manager->RunDue();
  ASSERT_EQ(f.issuer->calls, 2);
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[1].kind, CertEventKind::kRenewed);
  EXPECT_EQ(f.events[1].reason, RenewalReason::kDue);
  EXPECT_NE(CertStore((f.dir / "certs").string()).Load("app.test")->chain_pem, first);
}

TEST(CertManagerTest, BacksOffAfterFailuresAndRecovers) {
  Fixture f;
  f.issuer->error = "challenge failed: connection refused (urn:ietf:params:acme:error:connection)";
  f.manager->SetNames({"app.test"});
  f.manager->RunDue();
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].kind, CertEventKind::kFailed);
  EXPECT_NE(f.events[0].error.find("connection refused"), std::string::npos);
  EXPECT_TRUE(f.events[0].cert_path.empty());
  CertStatusRow row = f.Row("app.test");
  EXPECT_EQ(row.state, CertState::kFailing);
  EXPECT_EQ(row.plan, RenewalReason::kBackoff);
  EXPECT_EQ(row.consecutive_failures, 1);
  EXPECT_NE(row.last_error.find("connection refused"), std::string::npos);
  // 1 min after the first failure, then 2 min after the second.
  f.clock.AdvanceForTest(Duration(59'000));
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 1);
  f.clock.AdvanceForTest(Duration(1'000));
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 2);
  f.clock.AdvanceForTest(Duration(119'000));
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 2);
  f.issuer->error.clear();
  f.clock.AdvanceForTest(Duration(1'000));
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 3);
  ASSERT_EQ(f.events.size(), 3u);
  EXPECT_EQ(f.events[2].kind, CertEventKind::kIssued);
  EXPECT_EQ(f.Row("app.test").state, CertState::kValid);
  EXPECT_EQ(f.Row("app.test").consecutive_failures, 0);
}

TEST(CertManagerTest, NamesChangedOrdersTheNewAndForgetsTheOld) {
  Fixture f;
  f.manager->SetNames({"a.test"});
  f.manager->RunDue();
  f.manager->SetNames({"b.test"});
  f.manager->RunDue();
  ASSERT_EQ(f.issuer->calls, 2);
  EXPECT_EQ(f.issuer->last_names, std::vector<std::string>{"b.test"});
  std::vector<CertStatusRow> rows = f.manager->Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "b.test");
  // A stored certificate whose names differ from the wanted ones is reordered.
  auto key = EcKey::Generate();
  auto pem = MakeTlsAlpnCertificate("other.test", "ka", *key, f.clock.WallMillis() / 1000);
  ASSERT_TRUE(CertStore((f.dir / "certs").string()).Save({"c.test"}, *pem, *key).ok());
  f.manager->SetNames({"b.test", "c.test"});
  EXPECT_EQ(f.Row("c.test").plan, RenewalReason::kNamesChanged);
  f.manager->RunDue();
  EXPECT_EQ(f.issuer->calls, 3);
  EXPECT_EQ(f.issuer->last_names, std::vector<std::string>{"c.test"});
  EXPECT_EQ(f.events.back().kind, CertEventKind::kRenewed);
  EXPECT_EQ(f.events.back().reason, RenewalReason::kNamesChanged);
}

// What a CA's TLS-ALPN-01 validation sees while the authorization is pending: the responder's
// type, and the certificate the TLS listeners' table holds for the name.
class AlpnIssuer final : public Issuer {
 public:
  AlpnIssuer(std::shared_ptr<net::TlsAlpnChallenges> table, Clock* clock)
      : table_(std::move(table)), clock_(clock) {}
  Result<IssuedCert> Issue(const std::vector<std::string>& names, const EcKey& key,
                           ChallengeResponder* responder) override {
    type = responder->type();
    RETURN_IF_ERROR(responder->Present(names[0], "tok", "tok.thumb"));
    std::shared_ptr<const net::TlsAlpnCertificate> c = table_->Find(names[0]);
    if (c) {
      ASN1_OBJECT* oid = OBJ_txt2obj(kAcmeIdentifierOid, 1);
      const int at = X509_get_ext_by_OBJ(c->cert(), oid, -1);
      ASN1_OBJECT_free(oid);
      validation_has_acme_identifier =
          at >= 0 && X509_EXTENSION_get_critical(X509_get_ext(c->cert(), at)) == 1;
    }
    presented = c != nullptr;
    responder->CleanUp("tok");
    removed_after = table_->Find(names[0]) == nullptr;
    ASSIGN_OR_RETURN(std::string pem,
                     MakeTlsAlpnCertificate(names[0], "ka", key, clock_->WallMillis() / 1000));
    IssuedCert out;
    out.chain_pem = pem;
    ASSIGN_OR_RETURN(out.info, InspectLeaf(pem));
    return out;
  }
  ChallengeType type = ChallengeType::kHttp01;
  bool presented = false;
  bool validation_has_acme_identifier = false;
  bool removed_after = false;

 private:
  std::shared_ptr<net::TlsAlpnChallenges> table_;
  Clock* clock_;
};

TEST(CertManagerTest, TlsAlpnChallengesArePublishedInTheOwnersTableWhilePending) {
  Fixture f;
  auto table = std::make_shared<net::TlsAlpnChallenges>();
  auto issuer = std::make_shared<AlpnIssuer>(table, &f.clock);
  CertManagerOptions o;
  o.clock = &f.clock;
  o.post = [](std::function<void()> fn) { fn(); };
  o.on_event = [&](const CertEvent& e) { f.events.push_back(e); };
  o.challenge = ChallengeType::kTlsAlpn01;
  o.tls_alpn = table;
  CertManager m(o, issuer, CertStore((f.dir / "alpn").string()));
  EXPECT_EQ(m.tls_alpn_challenges(), table);
  m.SetNames({"app.test"});
  m.RunDue();
  EXPECT_EQ(issuer->type, ChallengeType::kTlsAlpn01);
  EXPECT_TRUE(issuer->presented);
  EXPECT_TRUE(issuer->validation_has_acme_identifier);
  EXPECT_TRUE(issuer->removed_after);
  EXPECT_EQ(table->size(), 0u);
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].kind, CertEventKind::kIssued);
  // The default stays http-01, through the manager's own ChallengeTable.
  EXPECT_EQ(f.manager->tls_alpn_challenges(), nullptr);
}

TEST(CertManagerTest, AStoredValidCertificateIsUsedNotReordered) {
  Fixture f;
  f.manager->SetNames({"app.test"});
  f.manager->RunDue();
  auto second = f.Make();  // a restarted owner
  second->SetNames({"app.test"});
  second->RunDue();
  EXPECT_EQ(f.issuer->calls, 1);
  EXPECT_EQ(second->Certificates().count("app.test"), 1u);
  EXPECT_TRUE(second->RenewNow("app.test").ok());
  EXPECT_EQ(second->RenewNow("nope.test").code(), StatusCode::kNotFound);
  second->RunDue();
  EXPECT_EQ(f.issuer->calls, 2);
}

TEST(CertManagerTest, TheWorkerThreadIssuesAndPostsToTheOwner) {
  Fixture f;
  std::mutex mu;
  std::vector<std::function<void()>> posted;
  CertManagerOptions o;
  o.clock = Clock::Real();
  o.post = [&](std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu);
    posted.push_back(std::move(task));
  };
  std::vector<CertEvent> seen;
  o.on_event = [&](const CertEvent& e) { seen.push_back(e); };
  auto issuer = std::make_shared<FakeIssuer>(Clock::Real());
  CertManager m(o, issuer, CertStore((f.dir / "thread").string()));
  m.SetNames({"app.test"});
  m.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!posted.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  m.Stop();
  // Events reach the owner only through its own queue.
  EXPECT_TRUE(seen.empty());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(posted.size(), 1u);
  posted[0]();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, CertEventKind::kIssued);
  EXPECT_EQ(issuer->calls, 1);
}

// A CA that never answers: a listening socket on 127.0.0.1 nobody accepts from (the kernel
// completes the TCP handshake; the TLS hello waits for ever). Stopping the manager cuts the
// attempt under way at once (the raise wakes the exchange's poll), reports nothing and records
// no failure.
TEST(CertManagerTest, StopCancelsAnAttemptBlockedOnACaThatNeverAnswers) {
  Fixture f;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  AcmeOptions opts;
  opts.directory_url = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/dir";
  opts.order_timeout = Duration(60'000);  // what the owners set: without a cancel, a minute
  CertStore store((f.dir / "blackhole").string());
  std::mutex mu;
  int events = 0;
  CertManagerOptions o;
  o.post = [&](std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu);
    ++events;
    task();
  };
  o.on_event = [](const CertEvent&) {};
  CertManager m(o, std::make_shared<AcmeIssuer>(opts, store), store);
  m.SetNames({"app.test"});
  m.Start();
  auto attempting = [&] {
    for (const CertStatusRow& r : m.Rows()) {
      if (r.last_attempt_ms > 0) return true;
    }
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!attempting() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(attempting());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the blocked exchange
  const auto stop = std::chrono::steady_clock::now();
  m.Stop();
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stop)
          .count();
  std::printf("stop with an attempt blocked on a silent CA: %lld ms\n",
              static_cast<long long>(took));
  EXPECT_LT(took, 300) << "the cancel waited for the exchange's next progress call";
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(events, 0);
  ASSERT_EQ(m.Rows().size(), 1u);
  EXPECT_EQ(m.Rows()[0].consecutive_failures, 0);
  ::close(fd);
}

}  // namespace
}  // namespace slipway::acme
