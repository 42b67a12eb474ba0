#include <gtest/gtest.h>

#include "metrics/histogram.h"
#include "metrics/prometheus_text.h"

namespace tandem {
namespace {

TEST(HistogramTest, BucketsAreCumulativeAndBoundsInclusive) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 4.0, 9.0}) h.Observe(v);
  const HistogramSnapshot s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));  // <=1, <=2, <=4, +Inf
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 16.0);
}

TEST(PrometheusTextTest, WritesFamiliesSamplesAndHistograms) {
  Histogram h({0.5});
  h.Observe(0.25);
  h.Observe(2);
  PrometheusText out;
  out.Family("tandem_x_total", "counter", "Things\nthat happened.");
  out.Sample("tandem_x_total", {{"model", "a\"b\\c\nd"}}, 3);
  out.Family("tandem_y_seconds", "histogram", "Durations.");
  out.Histogram("tandem_y_seconds", {{"model", "m"}}, h.Read());
  EXPECT_EQ(out.text(),
            "# HELP tandem_x_total Things\\nthat happened.\n"
            "# TYPE tandem_x_total counter\n"
            "tandem_x_total{model=\"a\\\"b\\\\c\\nd\"} 3\n"
            "# HELP tandem_y_seconds Durations.\n"
            "# TYPE tandem_y_seconds histogram\n"
            "tandem_y_seconds_bucket{model=\"m\",le=\"0.5\"} 1\n"
            "tandem_y_seconds_bucket{model=\"m\",le=\"+Inf\"} 2\n"
            "tandem_y_seconds_sum{model=\"m\"} 2.25\n"
            "tandem_y_seconds_count{model=\"m\"} 2\n");
}

}  // namespace
}  // namespace tandem
