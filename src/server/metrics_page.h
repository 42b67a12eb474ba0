// MetricsPage: GET /metrics, the engine's models, pipeline steps and devices and the HTTP
// server's counters in Prometheus text (docs/metrics.md lists every metric).
//
// Thread contract: Render is thread-safe (I/O threads); the busy-ratio state is guarded by mu_.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "engine/engine.h"
#include "server/http_server.h"
#include "server/request_memory.h"

namespace tandem {

class MetricsPage {
 public:
  // `engine` and `counters` must outlive the page.
  MetricsPage(const Engine& engine, const HttpCounters& counters, const RequestMemory& memory);

  std::string Render();

 private:
  using Clock = std::chrono::steady_clock;
  // Each device's busy fraction since the previous scrape (at least 1 s ago; the first scrape
  // measures from start-up). REQUIRES: mu_ held.
  double BusyRatio(const EngineMetrics::DeviceEntry& device, Clock::time_point now);

  const Engine& engine_;
  const HttpCounters& counters_;
  const RequestMemory& memory_;
  std::mutex mu_;
  struct BusySample {
    Clock::time_point at;
    std::chrono::nanoseconds busy{0};
    double ratio = 0;
  };
  const Clock::time_point started_ = Clock::now();
  std::map<std::string, BusySample> last_;  // per device; guarded by mu_
};

}  // namespace tandem
