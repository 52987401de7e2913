// Silences (alerts/silences.h): the matchers of each operator, validation, expiry and a
// restart (a real store in a temporary folder), and the Notifier holding back what a live
// silence matches, with a fake clock and a recording sender.
#include "alerts/silences.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "alerts/notifier.h"

namespace slipway::alerts {
namespace {

using nlohmann::json;
using Labels = std::map<std::string, std::string>;

Matcher M(const std::string& text) {
  auto m = ParseMatcher(text);
  EXPECT_TRUE(m.ok()) << text << ": " << m.status().message();
  return m.ok() ? *m : Matcher{};
}

SilenceSpec Spec(std::vector<std::string> matchers, int64_t ends_ms) {
  SilenceSpec s;
  for (const std::string& t : matchers) s.matchers.push_back(M(t));
  s.ends_ms = ends_ms;
  s.created_by = "ann";
  s.comment = "maintenance";
  return s;
}

TEST(SilencesTest, EachOperatorMatchesAsAlertmanagerDoes) {
  const Labels web = {{"alertname", "Down"}, {"service", "web"}, {"severity", "critical"}};
  const Labels db = {{"alertname", "Down"}, {"service", "db"}};
  EXPECT_TRUE(M("service=\"web\"").Matches(web));
  EXPECT_FALSE(M("service=\"web\"").Matches(db));
  EXPECT_TRUE(M("service!=\"web\"").Matches(db));
  EXPECT_FALSE(M("service!=\"web\"").Matches(web));
  EXPECT_TRUE(M("service=~\"w.*\"").Matches(web));
  EXPECT_FALSE(M("service=~\"w\"").Matches(web));  // anchored: the whole value
  EXPECT_TRUE(M("service!~\"w.*\"").Matches(db));
  EXPECT_FALSE(M("service!~\"w.*|d.*\"").Matches(db));
  // A missing label reads as "".
  EXPECT_TRUE(M("severity=\"\"").Matches(db));
  EXPECT_TRUE(M("severity!=\"critical\"").Matches(db));
  EXPECT_FALSE(M("severity=~\".+\"").Matches(db));
  // Unquoted values and escapes.
  EXPECT_TRUE(M("service=web").Matches(web));
  Matcher q = M(R"(note="a \"b\" \\ c")");
  EXPECT_EQ(q.value, R"(a "b" \ c)");
  EXPECT_EQ(q.ToString(), R"(note="a \"b\" \\ c")");
  EXPECT_EQ(M(q.ToString()).value, q.value);
}

TEST(SilencesTest, BadMatchersAreRefusedNamingWhat) {
  for (const char* bad : {"", "service", "=\"web\"", "1x=\"a\"", "service=\"web", "service~\"x\"",
                          "a b=\"c\"", "service=\"web\"x"}) {
    auto m = ParseMatcher(bad);
    EXPECT_FALSE(m.ok()) << bad;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), StatusCode::kInvalidInput) << bad;
    }
  }
  auto re = ParseMatcher("service=~\"(\"");
  ASSERT_FALSE(re.ok());
  EXPECT_NE(re.status().message().find("service: invalid regular expression"), std::string::npos)
      << re.status().message();
}

TEST(SilencesTest, AddChecksEveryFieldAndActiveFollowsTheClock) {
  FakeClock clock;
  auto s = std::move(Silences::Open(nullptr, &clock)).value();
  const int64_t now = clock.WallMillis();
  auto expect_refused = [&](SilenceSpec spec, const std::string& key) {
    auto r = s->Add(std::move(spec));
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_EQ(r.status().message().rfind(key + ":", 0), 0u) << r.status().message();
  };
  expect_refused(Spec({}, now + 60'000), "matchers");
  // Each matches an alert without the label: it would silence (nearly) everything.
  expect_refused(Spec({"service=~\".*\"", "team!=\"x\""}, now + 60'000), "matchers");
  expect_refused(Spec({"service=\"web\""}, now), "ends_at");
  expect_refused(Spec({"service=\"web\""}, now - 1), "ends_at");
  expect_refused(Spec({"service=\"web\""}, now + Silences::kMaxDurationMs + 1), "ends_at");
  SilenceSpec long_comment = Spec({"service=\"web\""}, now + 60'000);
  long_comment.comment.assign(Silences::kMaxComment + 1, 'x');
  expect_refused(std::move(long_comment), "comment");
  EXPECT_TRUE(s->List().empty());

  auto added = s->Add(Spec({"service=\"web\"", "severity=~\"crit.*\""}, now + 3'600'000));
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added->id.size(), 16u);
  const Labels web = {{"service", "web"}, {"severity", "critical"}};
  const Labels web_warn = {{"service", "web"}, {"severity", "warning"}};
  EXPECT_EQ(s->Active(web, now), std::vector<std::string>{added->id});
  EXPECT_TRUE(s->Active(web_warn, now).empty());  // every matcher must hold
  EXPECT_EQ(s->Active(web, now + 3'600'000 - 1).size(), 1u);
  EXPECT_TRUE(s->Active(web, now + 3'600'000).empty());  // ends_at is exclusive
  EXPECT_EQ(s->List()[0].ToJson(now)["state"], "active");
  EXPECT_EQ(s->List()[0].ToJson(now + 3'600'000)["state"], "expired");
}

TEST(SilencesTest, ExpireEndsItNowAndUnknownIdsAreNotFound) {
  FakeClock clock;
  auto s = std::move(Silences::Open(nullptr, &clock)).value();
  auto added = s->Add(Spec({"service=\"web\""}, clock.WallMillis() + 3'600'000));
  ASSERT_TRUE(added.ok());
  clock.AdvanceForTest(Duration(60'000));
  EXPECT_EQ(s->Active({{"service", "web"}}, clock.WallMillis()).size(), 1u);
  ASSERT_TRUE(s->Expire(added->id).ok());
  EXPECT_TRUE(s->Active({{"service", "web"}}, clock.WallMillis()).empty());
  EXPECT_EQ(s->List()[0].ends_ms, clock.WallMillis());
  EXPECT_EQ(s->Expire(added->id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->Expire("0123456789abcdef").code(), StatusCode::kNotFound);
  // Expired silences stay listed for a while, then are forgotten.
  clock.AdvanceForTest(Duration(Silences::kRetentionMs + 1));
  ASSERT_TRUE(s->Add(Spec({"service=\"db\""}, clock.WallMillis() + 60'000)).ok());
  ASSERT_EQ(s->List().size(), 1u);
  EXPECT_EQ(s->List()[0].matchers[0].value, "db");
}

TEST(SilencesTest, ReplaceEndsTheOldOneAndKeepsTheNewOrChangesNothing) {
  FakeClock clock;
  auto s = std::move(Silences::Open(nullptr, &clock)).value();
  auto old = s->Add(Spec({"service=\"web\""}, clock.WallMillis() + 3'600'000));
  ASSERT_TRUE(old.ok());
  clock.AdvanceForTest(Duration(60'000));
  // A bad spec: refused before anything changes, the old one still live.
  EXPECT_EQ(
      s->Replace(old->id, Spec({"service=~\".*\""}, clock.WallMillis() + 60'000)).status().code(),
      StatusCode::kInvalidInput);
  EXPECT_EQ(s->Replace(old->id, Spec({"service=\"web\""}, clock.WallMillis() - 1)).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(s->Replace("0123456789abcdef", Spec({"service=\"web\""}, clock.WallMillis() + 60'000))
                .status()
                .code(),
            StatusCode::kNotFound);
  ASSERT_EQ(s->List().size(), 1u);
  EXPECT_EQ(s->Active({{"service", "web"}}, clock.WallMillis()), std::vector<std::string>{old->id});

  auto fresh = s->Replace(old->id, Spec({"service=\"db\""}, clock.WallMillis() + 7'200'000));
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_NE(fresh->id, old->id);
  EXPECT_EQ(fresh->starts_ms, clock.WallMillis());
  EXPECT_TRUE(s->Active({{"service", "web"}}, clock.WallMillis()).empty());
  EXPECT_EQ(s->Active({{"service", "db"}}, clock.WallMillis()),
            std::vector<std::string>{fresh->id});
  ASSERT_EQ(s->List().size(), 2u);
  // The old one ended: it cannot be replaced again.
  EXPECT_EQ(
      s->Replace(old->id, Spec({"service=\"web\""}, clock.WallMillis() + 60'000)).status().code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->List().size(), 2u);
}

TEST(SilencesTest, SilencesSurviveARestart) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("silences_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  FakeClock clock;
  std::string live_id, expired_id;
  {
    auto store = std::move(store::Store::Open(dir / "state.db", &clock)).value();
    auto s = std::move(Silences::Open(store.get(), &clock)).value();
    auto live =
        s->Add(Spec({"service=~\"web|api\"", "env!=\"dev\""}, clock.WallMillis() + 7'200'000));
    auto gone = s->Add(Spec({"service=\"db\""}, clock.WallMillis() + 7'200'000));
    ASSERT_TRUE(live.ok() && gone.ok());
    live_id = live->id;
    expired_id = gone->id;
    ASSERT_TRUE(s->Expire(expired_id).ok());
  }
  auto store = std::move(store::Store::Open(dir / "state.db", &clock)).value();
  auto s = std::move(Silences::Open(store.get(), &clock)).value();
  ASSERT_EQ(s->List().size(), 2u);
  EXPECT_EQ(s->Active({{"service", "api"}, {"env", "prod"}}, clock.WallMillis()),
            std::vector<std::string>{live_id});
  EXPECT_TRUE(s->Active({{"service", "api"}, {"env", "dev"}}, clock.WallMillis()).empty());
  EXPECT_TRUE(s->Active({{"service", "db"}}, clock.WallMillis()).empty());
  EXPECT_EQ(s->Expire(expired_id).code(), StatusCode::kFailedPrecondition);
  store.reset();
  std::filesystem::remove_all(dir);
}

// The Notifier with a recording sender: what a live silence matches is not sent, resolved
// included, and is counted; once the silence ends the next group_interval sends it.
class SilencedNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    silences_ = std::move(Silences::Open(nullptr, &clock_)).value();
    config::NotificationSettings s;
    s.configured = true;
    s.route.receiver = "hook";
    s.route.group_by = std::vector<std::string>{"alertname"};
    s.route.group_wait = Duration(10'000);
    s.route.group_interval = Duration(60'000);
    s.route.repeat_interval = Duration(3'600'000);
    s.receivers.push_back({"hook", config::ReceiverSpec::Kind::kWebhook, "http://127.0.0.1:9/h",
                           100, Duration(5000)});
    Notifier::Options o;
    o.clock = &clock_;
    o.registry = &registry_;
    o.silences = silences_.get();
    o.send = [this](const Delivery& d, std::function<void(Status)> done) {
      ++attempts_;
      if (fail_ > 0) {
        --fail_;
        done(Unavailable("receiver down"));
        return;
      }
      sent_.push_back(json::parse(d.body));
      done(Status::OK());
    };
    notifier_ = std::move(Notifier::Create(s, std::move(o))).value();
  }
  Alert MakeAlert(const std::string& service, AlertState state) {
    Alert a;
    a.rule = "Down";
    a.labels = {{"alertname", "Down"}, {"service", service}};
    a.state = state;
    a.active_ms = clock_.WallMillis();
    a.resolved_ms = state == AlertState::kResolved ? clock_.WallMillis() : 0;
    a.fingerprint = Fingerprint(a.labels);
    return a;
  }
  // The services of the last notification's alerts.
  std::vector<std::string> LastServices() {
    std::vector<std::string> out;
    if (sent_.empty()) return out;
    for (const json& a : sent_.back()["alerts"]) out.push_back(a["labels"]["service"]);
    return out;
  }
  void Advance(int64_t ms) {
    clock_.AdvanceForTest(Duration(ms));
    notifier_->Tick();
  }

  FakeClock clock_;
  telemetry::Registry registry_;
  std::unique_ptr<Silences> silences_;
  std::unique_ptr<Notifier> notifier_;
  std::vector<json> sent_;
  int fail_ = 0;      // the next attempts that fail (the receiver is down)
  int attempts_ = 0;  // every attempt, failed or not
};

TEST_F(SilencedNotifierTest, ASilencedAlertIsHeldBackUntilTheSilenceEnds) {
  auto web = silences_->Add(Spec({"service=\"web\""}, clock_.WallMillis() + 120'000));
  ASSERT_TRUE(web.ok());
  notifier_->Update({MakeAlert("web", AlertState::kFiring), MakeAlert("db", AlertState::kFiring)});
  Advance(10'000);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(LastServices(), std::vector<std::string>{"db"});
  EXPECT_EQ(notifier_->Status()["silenced"], 1);
  EXPECT_NE(registry_.RenderPrometheus().find("slipway_alerts_silenced_total 1"), std::string::npos)
      << registry_.RenderPrometheus();
  // Still silenced a group_interval later: nothing new.
  Advance(60'000);
  EXPECT_EQ(sent_.size(), 1u);
  // The silence ends (at +120 s): the next group_interval after the last flush sends web.
  Advance(60'000);
  ASSERT_EQ(sent_.size(), 2u);
  std::vector<std::string> both = LastServices();
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, (std::vector<std::string>{"db", "web"}));
}

TEST_F(SilencedNotifierTest, AResolvedNotificationOfASilencedAlertIsNotSent) {
  notifier_->Update({MakeAlert("web", AlertState::kFiring)});
  Advance(10'000);
  ASSERT_EQ(sent_.size(), 1u);
  // Silenced while firing, then resolved: Alertmanager says nothing of it.
  auto id = silences_->Add(Spec({"service=~\"we.\""}, clock_.WallMillis() + 600'000));
  ASSERT_TRUE(id.ok());
  notifier_->Update({MakeAlert("web", AlertState::kResolved)});
  Advance(60'000);
  Advance(60'000);
  EXPECT_EQ(sent_.size(), 1u);
  EXPECT_EQ(notifier_->Status()["silenced"], 1);
  // Expired by hand: a new firing alert goes out again.
  ASSERT_TRUE(silences_->Expire(id->id).ok());
  notifier_->Update({MakeAlert("web", AlertState::kFiring)});
  Advance(10'000);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(LastServices(), std::vector<std::string>{"web"});
}

// A notification already queued when a silence is made (its receiver was down, it waits for
// the retry) is checked again at delivery: the silenced alert is taken out, the rest is sent,
// and the silenced one goes out once the silence ends.
TEST_F(SilencedNotifierTest, ASilenceMadeWhileANotificationWaitsHoldsItBackAtDelivery) {
  fail_ = 1;
  notifier_->Update({MakeAlert("web", AlertState::kFiring), MakeAlert("db", AlertState::kFiring)});
  Advance(10'000);  // group_wait: queued, the first attempt fails, the retry is 1 s away
  ASSERT_EQ(attempts_, 1);
  ASSERT_TRUE(sent_.empty());
  auto web = silences_->Add(Spec({"service=\"web\""}, clock_.WallMillis() + 120'000));
  ASSERT_TRUE(web.ok());
  Advance(1'000);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(LastServices(), std::vector<std::string>{"db"});
  EXPECT_EQ(sent_.back()["commonLabels"].value("service", ""), "db") << sent_.back().dump();
  EXPECT_EQ(notifier_->Status()["silenced"], 1);
  // The silence ends: web goes out at the next group_interval, as after a flush.
  Advance(60'000);
  EXPECT_EQ(sent_.size(), 1u);
  Advance(60'000);
  ASSERT_EQ(sent_.size(), 2u);
  std::vector<std::string> both = LastServices();
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, (std::vector<std::string>{"db", "web"}));
}

// Every alert of the queued notification silenced since: nothing is sent at all.
TEST_F(SilencedNotifierTest, AQueuedNotificationWhoseAlertsAreAllSilencedIsNotSent) {
  fail_ = 1;
  notifier_->Update({MakeAlert("web", AlertState::kFiring)});
  Advance(10'000);
  ASSERT_EQ(attempts_, 1);
  ASSERT_TRUE(silences_->Add(Spec({"alertname=\"Down\""}, clock_.WallMillis() + 600'000)).ok());
  Advance(1'000);
  Advance(1'000);
  EXPECT_EQ(attempts_, 1) << "no attempt after the silence";
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(notifier_->Status()["silenced"], 1);
  EXPECT_EQ(notifier_->Status()["receivers"][0].value("queue", -1), 0)
      << notifier_->Status().dump();
}

}  // namespace
}  // namespace slipway::alerts
