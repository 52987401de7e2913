// Engine checks that must refuse before anything changes. Real loop, store and log store in a
// scratch folder; no process is started.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "net/socket.h"

namespace slipway::engine {
namespace {

config::Service Host(const std::string& name, int published = 0) {
  config::Service s;
  s.name = name;
  s.command = {"/bin/true"};
  s.loc = {"compose.yaml", 2, 3};
  if (published > 0) {
    config::PortMapping p;
    p.host_ip = "127.0.0.1";
    p.published = published;
    p.target = 8080;
    p.loc = {"compose.yaml", 4, 7};
    s.ports.push_back(p);
  }
  return s;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-engine-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    loop_ = std::move(net::EventLoop::Create()).value();
    store_ = std::move(store::Store::Open(dir_ / "state.db", &clock_)).value();
    logs_ = std::make_unique<runtime::LogStore>(dir_ / "logs", &clock_);
    engine_ = std::make_unique<Engine>(loop_.get(), store_.get(), logs_.get(), EngineOptions{});
  }
  void TearDown() override {
    engine_.reset();
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runtime::LogStore> logs_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, AProjectWhosePortIsTakenIsNotInstalled) {
  config::Project first;
  first.name = "t";
  first.services["web"] = Host("web");
  ASSERT_TRUE(engine_->SetProjectIfStartable(first, {}).ok());

  auto busy = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(busy.ok());
  config::Project next = first;
  next.services["db"] = Host("db", *net::LocalPort(busy->get()));
  Status st = engine_->SetProjectIfStartable(next, {});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.message();
  EXPECT_NE(st.message().find("already in use"), std::string::npos) << st.message();
  EXPECT_EQ(engine_->project().services.count("db"), 0u) << "the previous project stays";

  // Only the named services are checked: `up web` does not trip over db's port.
  EXPECT_TRUE(engine_->SetProjectIfStartable(next, {"web"}).ok());
  EXPECT_EQ(engine_->project().services.count("db"), 1u);
}

TEST_F(EngineTest, ACycleOrAnUnknownServiceIsRefusedAsBadInput) {
  config::Project first;
  first.name = "t";
  first.services["web"] = Host("web");
  ASSERT_TRUE(engine_->SetProjectIfStartable(first, {}).ok());
  config::Project cyclic = first;
  cyclic.services["a"] = Host("a");
  cyclic.services["b"] = Host("b");
  cyclic.services["a"].depends_on.push_back({.service = "b", .required = true});
  cyclic.services["b"].depends_on.push_back({.service = "a", .required = true});
  Status st = engine_->SetProjectIfStartable(cyclic, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput) << st.message();
  EXPECT_EQ(engine_->project().services.size(), 1u);
  st = engine_->SetProjectIfStartable(first, {"nope"});
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput) << st.message();
  EXPECT_FALSE(engine_->Busy());
}

}  // namespace
}  // namespace slipway::engine
