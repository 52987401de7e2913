#include "store/write_health.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/store.h"

namespace slipway::store {
namespace {

namespace fs = std::filesystem;

TEST(WriteHealthTest, StorageFaultsAreTheDiskNotTheSql) {
  for (int rc : {SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, SQLITE_READONLY,
                 SQLITE_READONLY_DBMOVED, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CANTOPEN,
                 SQLITE_PERM, SQLITE_NOMEM, SQLITE_BUSY, SQLITE_LOCKED}) {
    EXPECT_TRUE(IsStorageFault(rc)) << rc;
  }
  for (int rc : {SQLITE_OK, SQLITE_DONE, SQLITE_ROW, SQLITE_ERROR, SQLITE_CONSTRAINT,
                 SQLITE_CONSTRAINT_UNIQUE, SQLITE_MISMATCH, SQLITE_RANGE, SQLITE_MISUSE,
                 SQLITE_TOOBIG, SQLITE_INTERRUPT}) {
    EXPECT_FALSE(IsStorageFault(rc)) << rc;
  }
}

TEST(WriteHealthTest, DegradedUntilAWriteSucceeds) {
  FakeClock clock(1000);
  WriteHealth h(&clock);
  EXPECT_FALSE(h.Snapshot().degraded);
  h.RecordFailure("store: append event: database or disk is full");
  clock.AdvanceForTest(Duration(500));
  h.RecordFailure(std::string(100'000, 'x'));  // oversized: kept bounded
  WriteHealthSnapshot s = h.Snapshot();
  EXPECT_TRUE(s.degraded);
  EXPECT_EQ(s.write_errors_total, 2u);
  EXPECT_EQ(s.degraded_since_ms, 1000);
  EXPECT_EQ(s.last_error_ms, 1500);
  EXPECT_EQ(s.last_error.size(), 1024u);
  h.RecordSuccess();
  s = h.Snapshot();
  EXPECT_FALSE(s.degraded);
  EXPECT_EQ(s.degraded_since_ms, 0);
  EXPECT_EQ(s.write_errors_total, 2u);  // a counter: never goes back
  EXPECT_EQ(s.last_error_ms, 1500);     // the last error stays for the record
}

class StoreWriteHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-wh-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Store> Open(const fs::path& path) {
    auto s = Store::Open(path, &clock_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static Event Ev(std::string message) {
    Event e;
    e.service = "api";
    e.kind = "started";
    e.message = std::move(message);
    return e;
  }

  fs::path dir_;
  FakeClock clock_;
};

// SQLITE_FULL for real: max_page_count caps the file at its current size.
TEST_F(StoreWriteHealthTest, FullDatabaseMarksTheStoreDegradedUntilAWriteSucceeds) {
  auto store = Open(dir_ / "state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->AppendEvent(Ev("before")).ok());
  EXPECT_FALSE(store->write_health().degraded);
  ASSERT_TRUE(Exec(store->db(), "PRAGMA max_page_count = 1", "cap").ok());  // = current size

  const std::string big(8192, 'e');  // cannot fit into a page that exists
  Status st = store->AppendEvent(Ev(big));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("full"), std::string::npos) << st.message();
  WriteHealthSnapshot h = store->write_health();
  EXPECT_TRUE(h.degraded);
  EXPECT_EQ(h.write_errors_total, 1u);
  EXPECT_EQ(h.last_error, st.message());
  EXPECT_EQ(h.last_error_ms, clock_.WallMillis());
  // Every table owner's writes count, not only the Store's own.
  EXPECT_FALSE(store->SetMeta("k", big).ok());
  EXPECT_EQ(store->write_health().write_errors_total, 2u);
  // Reads still answer, and a read does not make the store healthy again.
  auto events = store->Events(0, {}, 0);
  ASSERT_TRUE(events.ok()) << events.status().message();
  EXPECT_EQ(events->size(), 1u);
  EXPECT_TRUE(store->write_health().degraded);

  ASSERT_TRUE(Exec(store->db(), "PRAGMA max_page_count = 1000000", "uncap").ok());
  EXPECT_TRUE(store->write_health().degraded);  // a PRAGMA is not a write
  ASSERT_TRUE(store->AppendEvent(Ev(big)).ok());
  h = store->write_health();
  EXPECT_FALSE(h.degraded);
  EXPECT_EQ(h.write_errors_total, 2u);
}

TEST_F(StoreWriteHealthTest, ReadOnlyConnectionIsAFault) {
  auto store = Open(dir_ / "state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(Exec(store->db(), "PRAGMA query_only = ON", "read only").ok());
  EXPECT_FALSE(store->AppendEvent(Ev("x")).ok());
  EXPECT_TRUE(store->write_health().degraded);
  EXPECT_NE(store->write_health().last_error.find("append event"), std::string::npos);
  ASSERT_TRUE(Exec(store->db(), "PRAGMA query_only = OFF", "writable").ok());
  ASSERT_TRUE(store->AppendEvent(Ev("x")).ok());
  EXPECT_FALSE(store->write_health().degraded);
}

// A failed write inside a transaction stays a failure through the ROLLBACK; COMMIT heals.
TEST_F(StoreWriteHealthTest, RollbackDoesNotHealButCommitDoes) {
  auto store = Open(dir_ / "state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(Exec(store->db(), "PRAGMA max_page_count = 1", "cap").ok());
  ASSERT_TRUE(Exec(store->db(), "BEGIN IMMEDIATE", "begin").ok());
  EXPECT_FALSE(store->AppendEvent(Ev(std::string(8192, 'e'))).ok());
  // SQLite may have rolled back already after SQLITE_FULL; then this ROLLBACK is an error.
  (void)Exec(store->db(), "ROLLBACK", "rollback");
  EXPECT_TRUE(store->write_health().degraded);
  ASSERT_TRUE(Exec(store->db(), "PRAGMA max_page_count = 1000000", "uncap").ok());
  ASSERT_TRUE(Exec(store->db(), "BEGIN IMMEDIATE", "begin").ok());
  ASSERT_TRUE(Exec(store->db(), "COMMIT", "commit").ok());
  EXPECT_FALSE(store->write_health().degraded);
}

// A constraint violation is a bug or bad input, not a storage fault.
TEST_F(StoreWriteHealthTest, ConstraintViolationIsNotAFault) {
  auto store = Open(dir_ / "state.db");
  ASSERT_TRUE(store);
  auto ins = Statement::Prepare(store->db(),
                                "INSERT INTO schema_modules(module, version, name, applied_ms) "
                                "VALUES ('store', 1, 'again', 0)",
                                "duplicate step");
  ASSERT_TRUE(ins.ok());
  EXPECT_FALSE((*ins)->Run().ok());
  EXPECT_FALSE(store->write_health().degraded);
  EXPECT_EQ(store->write_health().write_errors_total, 0u);
  // Bad SQL through Exec neither.
  EXPECT_FALSE(Exec(store->db(), "INSERT INTO no_such_table VALUES (1)", "bad").ok());
  EXPECT_EQ(store->write_health().write_errors_total, 0u);
}

TEST_F(StoreWriteHealthTest, ClosedStoreUnregistersItsConnection) {
  sqlite3* db = nullptr;
  {
    auto store = Open(dir_ / "state.db");
    ASSERT_TRUE(store);
    db = store->db();
    EXPECT_NE(WriteHealthOf(db), nullptr);
  }
  EXPECT_EQ(WriteHealthOf(db), nullptr);
}

// A real full filesystem (ENOSPC -> SQLITE_FULL): a 256 KiB tmpfs. Mounting needs
// privileges; without them the max_page_count tests above cover the same path.
TEST_F(StoreWriteHealthTest, FullFilesystemMarksTheStoreDegraded) {
  const fs::path mnt = dir_ / "mnt";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); the max_page_count tests cover SQLITE_FULL";
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    auto store = Open(mnt / "state.db");
    ASSERT_TRUE(store);
    {
      std::ofstream filler(mnt / "filler", std::ios::binary);
      std::string block(16 * 1024, 'f');
      for (int i = 0; i < 4; ++i) filler << block;  // 64 KiB to free later
    }
    const std::string chunk(4096, 'x');
    Status st;
    for (int i = 0; i < 400 && st.ok(); ++i) st = store->AppendEvent(Ev(chunk));  // > 1.5 MiB
    ASSERT_FALSE(st.ok()) << "256 KiB never filled up";
    WriteHealthSnapshot h = store->write_health();
    EXPECT_TRUE(h.degraded);
    EXPECT_GE(h.write_errors_total, 1u);
    EXPECT_NE(h.last_error.find("full"), std::string::npos) << h.last_error;

    fs::remove(mnt / "filler");
    ASSERT_TRUE(store->AppendEvent(Ev("small")).ok());
    EXPECT_FALSE(store->write_health().degraded);
  }
}

}  // namespace
}  // namespace slipway::store
