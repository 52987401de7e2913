// Host: everything the engine asks of the machine it runs services on, in one narrow
// interface: spawn and adopt processes, signal them, hear of their exits
// (runtime::ProcessHost, which each runtime::Instance is given), read a process's start time,
// age and environment (what a recovering engine checks and shows), and run health probes
// (HTTP, TCP, or a command, inside the container for a container service). A container
// service is a process too (`podman run --rm --init ...`, runtime/container.h), so the
// container runtime's calls cross the same seam.
//
// Real() is the machine (runtime::Process, health::RunProbe). FakeHost (engine/fake_host.h)
// is the test double: its processes run until the test ends them, its probes answer what the
// test says, so engine tests are hermetic and run on a FakeClock loop in milliseconds.
//
// Ownership and threads: the host outlives the engine; calls and callbacks on the loop's
// thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/clock.h"
#include "config/project.h"
#include "health/probe.h"
#include "net/event_loop.h"
#include "runtime/process_host.h"

namespace slipway::engine {

class Host : public runtime::ProcessHost {
 public:
  // Runs one probe of `hc` against `target`; `done` is called exactly once, later, on the
  // loop (health::HealthMonitor's prober contract).
  virtual void Probe(net::EventLoop* loop, const config::Healthcheck& hc,
                     const health::ProbeTarget& target,
                     std::function<void(health::ProbeResult)> done) = 0;

  // When `pid` started (runtime::ProcessStartTime: 0 when no such process runs), so a pid
  // saved in the snapshot can be told from a reused one.
  virtual uint64_t StartTime(pid_t pid) = 0;
  // How long ago a process that started at `start_time` (StartTime) started
  // (runtime::ProcessAge): an adopted instance's uptime goes on from there.
  virtual Duration Age(uint64_t start_time) = 0;
  // The environment `pid` was started with (runtime::ProcessEnvironment; empty if unknown).
  virtual std::map<std::string, std::string> Environment(pid_t pid) = 0;

  // The machine; a process-wide constant.
  static Host* Real();
};

}  // namespace slipway::engine
