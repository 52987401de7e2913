// TcpConn: one client connection accepted on a TCP listener (ListenerMode::kTcp) and its
// connection to a backend. Internal to src/proxy.
//
// Accept → pick a backend with the listener's route balancer (the deploy's weighted sets, as
// HTTP requests use) → non-blocking connect (connect_timeout; a refused or timed-out connect
// marks the backend down for passive_down and tries another, 3 attempts in all) → copy bytes
// both ways. Each direction has one fixed 16 KiB buffer: a direction reads only when its
// buffer is empty, so a slow reader stops the writer through TCP flow control (back-pressure)
// and memory per connection is bounded. A FIN from one side is passed on as shutdown(SHUT_WR)
// to the other once its buffered bytes are written (half-close); the connection closes when
// both directions have ended, on a reset or error, after tcp_idle_timeout with no byte either
// way, or tcp_drain_timeout after its backend left the route table (a weight change keeps the
// connection on its backend; a removed backend drains).
//
// Metrics (per instance set, as HTTP): each connection counts as one "request" whose status
// says how the connect went (200 connected, 502 refused, 504 timed out, 503 no backend) and
// whose duration is the connect time, so a deploy's analysis can judge a TCP service's new set;
// bytes_in/bytes_out count the payload.
//
// Owned by its Worker and used only on the worker's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "proxy/worker.h"

namespace slipway::proxy {

class TcpConn {
 public:
  TcpConn(Worker* w, int fd, std::string listener_key, telemetry::Gauge* active);
  ~TcpConn();
  TcpConn(const TcpConn&) = delete;
  TcpConn& operator=(const TcpConn&) = delete;

  // After the client fd is registered: picks a backend and connects.
  void Start();
  void OnClientEvent(uint32_t events);
  void OnUpstreamEvent(uint32_t events);
  // Called by the worker's sweep once deadline() passed.
  void CheckTimeout(MonoTime now);
  // After a table switch: a backend no longer routed starts draining.
  void OnTableChange();
  // Closes both sides now (shutdown, errors); the worker retires it.
  void CloseNow();

  MonoTime deadline() const;
  bool closed() const { return client_fd_ < 0; }

  static constexpr size_t kBufferBytes = 16 * 1024;

 private:
  // One direction: bytes read from `from` not yet written to the other side.
  struct Flow {
    std::unique_ptr<char[]> buf;
    size_t len = 0, off = 0;
    bool readable = false;  // edge-triggered readiness of the source not consumed yet
    bool writable = false;  // ... of the destination
    bool hup = false;       // the source's FIN or error was reported (read until 0 / error)
    bool eof = false;       // the source sent FIN
    bool shut = false;      // FIN passed on to the destination
  };
  enum class Step { kMore, kWait, kFailed };

  void Connect();
  void FinishConnect();
  void ConnectFailed(UpstreamError kind);
  void Pump();
  Step Move(Flow& f, int from, int to, telemetry::Counter* bytes);
  void Finish();

  Worker* w_;
  int client_fd_;
  int upstream_fd_ = -1;
  std::string listener_key_;
  telemetry::Gauge* active_;
  BackendState* backend_ = nullptr;  // while picked; its health.active counts us
  SetMetrics metrics_{};
  bool have_metrics_ = false;
  bool connected_ = false;
  int attempts_ = 0;
  MonoTime connect_start_{};
  MonoTime connect_deadline_{};
  MonoTime last_activity_{};
  MonoTime drain_deadline_ = MonoTime::max();
  Flow up_;    // client → backend
  Flow down_;  // backend → client
  bool resume_scheduled_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::proxy
