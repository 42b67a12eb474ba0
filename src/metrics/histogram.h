// Histogram: counts of observations in fixed buckets, their sum and count, as Prometheus
// histograms expose them (docs/metrics.md).
//
// Thread contract: Observe and Read are thread-safe and lock-free; a Read racing Observes may see
// a bucket count one ahead of the total, which scrapers tolerate.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tandem {

struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // ascending; +Inf is implicit
  std::vector<uint64_t> cumulative;  // per bound: observations <= it; then one for +Inf
  double sum = 0;
  uint64_t count = 0;
};

class Histogram {
 public:
  // REQUIRES: `upper_bounds` ascending.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);
  HistogramSnapshot Read() const;

  // Seconds, 100 µs to 60 s: queue, compute and request durations.
  static std::vector<double> LatencyBuckets();
  // 1, 2, 4, ..., 1024: batch sizes.
  static std::vector<double> SizeBuckets();

 private:
  const std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0};
};

}  // namespace tandem
