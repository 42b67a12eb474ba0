#include "metrics/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace tandem {
namespace {

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
void Escape(std::string& out, std::string_view value, bool quotes) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: 0.00025, 3, 1.5e-05.
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

}  // namespace

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  Escape(text_, help, /*quotes=*/false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::Series(std::string_view name, const MetricLabels& labels,
                            std::string_view extra_label, std::string_view extra_value) {
  text_ += name;
  if (labels.empty() && extra_label.empty()) return;
  text_ += '{';
  bool first = true;
  auto label = [&](std::string_view key, std::string_view value) {
    if (!first) text_ += ',';
    first = false;
    text_ += key;
    text_ += "=\"";
    Escape(text_, value, /*quotes=*/true);
    text_ += '"';
  };
  for (const auto& [key, value] : labels) label(key, value);
  if (!extra_label.empty()) label(extra_label, extra_value);
  text_ += '}';
}

void PrometheusText::Value(double value) {
  text_ += ' ';
  text_ += FormatNumber(value);
  text_ += '\n';
}

void PrometheusText::Sample(std::string_view name, const MetricLabels& labels, double value) {
  Series(name, labels, "", "");
  Value(value);
}

void PrometheusText::Histogram(std::string_view name, const MetricLabels& labels,
                               const HistogramSnapshot& h) {
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    const bool inf = i == h.upper_bounds.size();
    Series(bucket, labels, "le", inf ? "+Inf" : FormatNumber(h.upper_bounds[i]));
    Value(static_cast<double>(h.cumulative[i]));
  }
  Sample(std::string(name) + "_sum", labels, h.sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(h.count));
}

}  // namespace tandem
