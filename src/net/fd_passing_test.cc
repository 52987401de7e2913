#include "net/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace slipway::net {
namespace {

struct Pair {
  UniqueFd a, b;
};

Pair SeqPacketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

bool IsCloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

TEST(FdPassingTest, MessageWithFdsArrivesWhole) {
  Pair p = SeqPacketPair();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  UniqueFd r(pipefd[0]), w(pipefd[1]);
  int fds[] = {r.get(), w.get()};
  ASSERT_TRUE(SendMessage(p.a.get(), std::string("take\0key", 8), fds).ok());
  auto m = RecvMessage(p.b.get());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->data, std::string("take\0key", 8));
  ASSERT_EQ(m->fds.size(), 2u);
  EXPECT_TRUE(IsCloexec(m->fds[0].get()));
  // The passed write end reaches the original read end.
  ASSERT_EQ(::write(m->fds[1].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(FdPassingTest, EofIsReported) {
  Pair p = SeqPacketPair();
  p.a.Reset();
  auto m = RecvMessage(p.b.get());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->eof);
}

TEST(FdPassingTest, OversizedMessageIsRefusedAndItsFdsClosed) {
  Pair p = SeqPacketPair();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  UniqueFd r(pipefd[0]), w(pipefd[1]);
  int fds[] = {w.get()};
  ASSERT_TRUE(SendMessage(p.a.get(), std::string(300, 'a'), fds).ok());
  w.Reset();
  auto m = RecvMessage(p.b.get(), 100);
  EXPECT_FALSE(m.ok());
  // Every write end is closed again: the read end sees EOF.
  char c;
  EXPECT_EQ(::read(r.get(), &c, 1), 0);
}

TEST(FdPassingTest, EmptyAndTooManyAreRefused) {
  Pair p = SeqPacketPair();
  EXPECT_FALSE(SendMessage(p.a.get(), "").ok());
  std::vector<int> many(kMaxPassedFds + 1, 0);
  EXPECT_FALSE(SendMessage(p.a.get(), "x", many).ok());
}

TEST(FdPassingTest, NothingPendingOnNonBlockingIsUnavailable) {
  Pair p = SeqPacketPair();
  ASSERT_TRUE(SetNonBlocking(p.b.get()).ok());
  auto m = RecvMessage(p.b.get());
  EXPECT_EQ(m.status().code(), StatusCode::kUnavailable);
}

TEST(FdPassingTest, SendToClosedPeerFailsWithoutSignal) {
  Pair p = SeqPacketPair();
  p.b.Reset();
  EXPECT_FALSE(SendMessage(p.a.get(), "x").ok());  // EPIPE, no SIGPIPE (MSG_NOSIGNAL)
}

}  // namespace
}  // namespace slipway::net
