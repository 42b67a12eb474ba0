#include "server/metrics_page.h"

#include <unistd.h>

#include <fstream>

#include "metrics/prometheus_text.h"

namespace tandem {
namespace {

// Low-cardinality reason labels: the status code, lower-cased ("deadline_exceeded").
std::string Reason(StatusCode code) {
  std::string reason(StatusCodeName(code));
  for (char& c : reason) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return reason;
}

MetricLabels LabelsOf(const EngineMetrics::Entry& e) {
  if (!e.step.empty()) return {{"model", e.model}, {"step", e.step}};
  return {{"model", e.model}, {"version", e.version}};
}

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

MetricsPage::MetricsPage(const Engine& engine, const HttpCounters& counters,
                         const RequestMemory& memory)
    : engine_(engine), counters_(counters), memory_(memory) {}

double MetricsPage::BusyRatio(const EngineMetrics::DeviceEntry& device, Clock::time_point now) {
  BusySample& last = last_[device.device.ToString()];
  if (last.at == Clock::time_point()) last.at = started_;
  const auto elapsed = now - last.at;
  if (elapsed >= std::chrono::seconds(1)) {
    last.ratio = std::min(1.0, std::chrono::duration<double>(device.busy - last.busy).count() /
                                   std::chrono::duration<double>(elapsed).count());
    last.at = now;
    last.busy = device.busy;
  }
  return last.ratio;
}

std::string MetricsPage::Render() {
  const EngineMetrics m = engine_.Metrics();
  PrometheusText out;
  using Entry = EngineMetrics::Entry;
  // One family: its samples for every entry `select` accepts, valued by `value`.
  auto family = [&](const char* name, const char* type, const char* help, auto select, auto value) {
    out.Family(name, type, help);
    for (const Entry& e : m.entries) {
      if (select(e)) out.Sample(name, LabelsOf(e), value(e));
    }
  };
  auto all = [](const Entry&) { return true; };
  auto executes = [](const Entry& e) { return e.queue_depth.has_value(); };
  auto endpoint = [](const Entry& e) { return e.step.empty(); };

  out.Family("tandem_ready", "gauge", "1 when every model and pipeline is loaded and warmed.");
  out.Sample("tandem_ready", {}, engine_.Ready() ? 1 : 0);

  family("tandem_request_success_total", "counter",
         "Requests answered successfully (pipeline steps: step jobs that succeeded).", all,
         [](const Entry& e) { return static_cast<double>(e.stats.success.count); });
  out.Family("tandem_request_failure_total", "counter",
             "Requests failed, by reason (the status code: invalid_argument, unavailable, "
             "deadline_exceeded, internal, resource_exhausted, ...).");
  for (const Entry& e : m.entries) {
    for (const auto& [code, count] : e.stats.failures) {
      MetricLabels labels = LabelsOf(e);
      labels.emplace_back("reason", Reason(code));
      out.Sample("tandem_request_failure_total", labels, static_cast<double>(count));
    }
  }
  family("tandem_requests_in_flight", "gauge", "Requests admitted and not yet answered.", endpoint,
         [](const Entry& e) { return static_cast<double>(e.stats.in_flight); });
  family("tandem_inference_count_total", "counter",
         "Batch items computed (requests' batch rows, including pipeline steps' jobs).", executes,
         [](const Entry& e) { return static_cast<double>(e.stats.inference_count); });
  family("tandem_execution_count_total", "counter", "Batches executed.", executes,
         [](const Entry& e) { return static_cast<double>(e.stats.execution_count); });
  family("tandem_queue_depth", "gauge", "Jobs waiting in the queue.", executes,
         [](const Entry& e) { return static_cast<double>(*e.queue_depth); });

  out.Family("tandem_model_state", "gauge",
             "1 for the state each model version and pipeline is in (LOADING, READY, "
             "UNAVAILABLE), 0 for the others.");
  for (const Entry& e : m.entries) {
    if (!e.state) continue;
    for (ModelState state : {ModelState::kLoading, ModelState::kReady, ModelState::kUnavailable}) {
      MetricLabels labels = LabelsOf(e);
      labels.emplace_back("state", std::string(ModelStateName(state)));
      out.Sample("tandem_model_state", labels, *e.state == state ? 1 : 0);
    }
  }
  family(
      "tandem_model_load_duration_seconds", "gauge",
      "How long the last load of the model version (a pipeline: its assembly) took, "
      "warm-up included.",
      [](const Entry& e) { return e.state && *e.state != ModelState::kLoading; },
      [](const Entry& e) { return e.load_time.count(); });

  auto histogram = [&](const char* name, const char* help, auto select, auto field) {
    out.Family(name, "histogram", help);
    for (const Entry& e : m.entries) {
      if (select(e)) out.Histogram(name, LabelsOf(e), field(e));
    }
  };
  histogram("tandem_queue_duration_seconds", "Time a job waited in the queue.", executes,
            [](const Entry& e) -> const HistogramSnapshot& { return e.stats.queue_seconds; });
  histogram("tandem_compute_duration_seconds", "Time a job's batch took to merge, run and split.",
            executes,
            [](const Entry& e) -> const HistogramSnapshot& { return e.stats.compute_seconds; });
  histogram("tandem_request_duration_seconds",
            "Time from admission to answer (pipeline steps: from submission to result).", all,
            [](const Entry& e) -> const HistogramSnapshot& { return e.stats.request_seconds; });
  histogram("tandem_batch_size", "Items in each executed batch.", executes,
            [](const Entry& e) -> const HistogramSnapshot& { return e.stats.batch_size; });

  out.Family("tandem_device_busy_seconds_total", "counter",
             "Time the device had a batch running (CUDA: as the host sees it; sim: exact).");
  for (const auto& d : m.devices) {
    out.Sample("tandem_device_busy_seconds_total", {{"device", d.device.ToString()}},
               std::chrono::duration<double>(d.busy).count());
  }
  out.Family("tandem_device_busy_ratio", "gauge",
             "Fraction of the time since the previous scrape (at least 1 s) the device was busy.");
  {
    std::lock_guard lock(mu_);
    const Clock::time_point now = Clock::now();
    for (const auto& d : m.devices) {
      out.Sample("tandem_device_busy_ratio", {{"device", d.device.ToString()}}, BusyRatio(d, now));
    }
  }
  auto memory = [&](const char* name, const char* help, uint64_t DeviceSet::Memory::*field) {
    out.Family(name, "gauge", help);
    for (const auto& d : m.devices) {
      if (d.memory) {
        out.Sample(name, {{"device", d.device.ToString()}},
                   static_cast<double>((*d.memory).*field));
      }
    }
  };
  memory("tandem_device_memory_allocated_bytes", "Device memory in tensors (CUDA devices only).",
         &DeviceSet::Memory::allocated_bytes);
  memory("tandem_device_memory_reserved_bytes",
         "Device memory held by the caching allocator (CUDA devices only).",
         &DeviceSet::Memory::reserved_bytes);

  out.Family("tandem_device_loaded_model_bytes", "gauge",
             "Bytes of weights the loaded model versions' instances hold on the device.");
  for (const auto& d : m.devices) {
    out.Sample("tandem_device_loaded_model_bytes", {{"device", d.device.ToString()}},
               static_cast<double>(d.weight_bytes));
  }
  out.Family("tandem_device_loaded_models", "gauge",
             "Loaded model versions with an instance on the device.");
  for (const auto& d : m.devices) {
    out.Sample("tandem_device_loaded_models", {{"device", d.device.ToString()}},
               static_cast<double>(d.model_versions));
  }
  out.Family("tandem_device_model_memory_limit_bytes", "gauge",
             "--model-load-memory-limit of the device, where one is set.");
  for (const auto& d : m.devices) {
    if (d.weight_limit) {
      out.Sample("tandem_device_model_memory_limit_bytes", {{"device", d.device.ToString()}},
                 static_cast<double>(*d.weight_limit));
    }
  }

  auto gauge = [&](const char* name, const char* type, const char* help, double value) {
    out.Family(name, type, help);
    out.Sample(name, {}, value);
  };
  gauge("tandem_http_connections", "gauge", "Open HTTP connections.",
        static_cast<double>(counters_.connections_open.load()));
  gauge("tandem_http_connections_accepted_total", "counter", "HTTP connections accepted.",
        static_cast<double>(counters_.connections_accepted.load()));
  gauge("tandem_http_connections_refused_total", "counter",
        "Connections over --max-connections, answered 503 and closed.",
        static_cast<double>(counters_.connections_refused.load()));
  gauge("tandem_http_timeouts_total", "counter",
        "Requests whose headers or body did not arrive in time (408).",
        static_cast<double>(counters_.timeouts.load()));
  gauge("tandem_http_requests_in_flight", "gauge",
        "HTTP requests read and not yet answered, this scrape included.",
        static_cast<double>(counters_.requests_in_flight.load()));
  out.Family("tandem_http_responses_total", "counter", "HTTP responses, by status code.");
  for (const auto& [code, count] : counters_.ResponsesByCode()) {
    out.Sample("tandem_http_responses_total", {{"code", std::to_string(code)}},
               static_cast<double>(count));
  }
  gauge("tandem_request_bytes_held", "gauge",
        "Bytes of request bodies and gRPC request messages the server holds now.",
        static_cast<double>(memory_.held()));
  gauge("tandem_request_bytes_limit", "gauge", "--max-inflight-bytes.",
        static_cast<double>(memory_.limit()));
  gauge("tandem_requests_refused_for_memory_total", "counter",
        "Requests refused (503, gRPC UNAVAILABLE) because they would pass --max-inflight-bytes.",
        static_cast<double>(memory_.refused()));
  gauge("tandem_process_resident_memory_bytes", "gauge", "Resident memory of the server process.",
        ResidentBytes());
  return out.text();
}

}  // namespace tandem
