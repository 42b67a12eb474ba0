// PrometheusText: writes metrics in the Prometheus text exposition format, version 0.0.4.
// Every family is declared once (Family), followed by all of its samples.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/histogram.h"

namespace tandem {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // `type`: "counter", "gauge" or "histogram". Counter names end in `_total`.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  // The `_bucket`, `_sum` and `_count` samples of histogram `name`.
  void Histogram(std::string_view name, const MetricLabels& labels, const HistogramSnapshot& h);

  const std::string& text() const { return text_; }

 private:
  void Series(std::string_view name, const MetricLabels& labels, std::string_view extra_label,
              std::string_view extra_value);
  void Value(double value);

  std::string text_;
};

}  // namespace tandem
