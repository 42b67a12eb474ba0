#include "server/model_json.h"

#include "backend/backend_registry.h"
#include "server/json_util.h"

namespace tandem {

std::string ModelPlatform(const ModelConfig& config) {
  const BackendDescription* backend = FindBackend(config.backend);
  return backend != nullptr ? backend->platform : config.backend;
}

std::string ConfigTypeName(DataType dtype) {
  if (dtype == DataType::kBytes) return "TYPE_STRING";
  return "TYPE_" + std::string(DataTypeName(dtype));
}

namespace {

void WriteDims(JsonWriter& w, const Shape& shape) {
  w.StartArray();
  for (int64_t d : shape.dims()) w.Int64(d);
  w.EndArray();
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string ServerMetadataJson() {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  w.String("tandem");
  w.Key("version");
  w.String(kServerVersion);
  w.Key("extensions");
  w.StartArray();
  for (const char* extension : kServerExtensions) w.String(extension);
  w.EndArray();
  w.EndObject();
  return Finish(buffer);
}

std::string ModelMetadataJson(const ModelConfig& config, const std::vector<std::string>& versions) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteField(w, "name", config.name);
  w.Key("versions");
  w.StartArray();
  for (const std::string& v : versions) WriteString(w, v);
  w.EndArray();
  WriteField(w, "platform", ModelPlatform(config));
  auto tensors = [&](const char* key, const std::vector<TensorConfig>& list) {
    w.Key(key);
    w.StartArray();
    for (const TensorConfig& t : list) {
      w.StartObject();
      WriteField(w, "name", t.name);
      WriteField(w, "datatype", DataTypeName(t.dtype));
      w.Key("shape");
      WriteDims(w, config.batched() ? t.shape.Prepend(Shape::kAnyDim) : t.shape);
      w.EndObject();
    }
    w.EndArray();
  };
  tensors("inputs", config.inputs);
  tensors("outputs", config.outputs);
  w.EndObject();
  return Finish(buffer);
}

std::string ModelConfigJson(const ModelConfig& config) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteField(w, "name", config.name);
  WriteField(w, "platform", ModelPlatform(config));
  WriteField(w, "backend", config.backend);
  w.Key("max_batch_size");
  w.Int64(config.max_batch_size);
  auto tensors = [&](const char* key, const std::vector<TensorConfig>& list) {
    w.Key(key);
    w.StartArray();
    for (const TensorConfig& t : list) {
      w.StartObject();
      WriteField(w, "name", t.name);
      WriteField(w, "data_type", ConfigTypeName(t.dtype));
      w.Key("dims");
      WriteDims(w, t.shape);
      w.EndObject();
    }
    w.EndArray();
  };
  tensors("input", config.inputs);
  tensors("output", config.outputs);
  if (config.dynamic_batching) {
    const DynamicBatchingConfig& db = *config.dynamic_batching;
    w.Key("dynamic_batching");
    w.StartObject();
    w.Key("max_queue_delay_microseconds");
    w.Int64(db.max_queue_delay_us);
    w.Key("preferred_batch_size");
    w.StartArray();
    for (int64_t b : db.preferred_batch_sizes) w.Int64(b);
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  return Finish(buffer);
}

std::string ModelStatsJson(const std::vector<ModelStatsReport>& reports) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  auto duration = [&](const char* key, const DurationStat& d) {
    w.Key(key);
    w.StartObject();
    WriteUintField(w, "count", d.count);
    WriteUintField(w, "ns", d.ns);
    w.EndObject();
  };
  w.StartObject();
  w.Key("model_stats");
  w.StartArray();
  for (const ModelStatsReport& r : reports) {
    const ModelStatsSnapshot& s = r.stats;
    w.StartObject();
    WriteField(w, "name", r.name);
    WriteField(w, "version", r.version);
    WriteUintField(w, "last_inference", s.last_inference_ms);
    WriteUintField(w, "inference_count", s.inference_count);
    WriteUintField(w, "execution_count", s.execution_count);
    w.Key("inference_stats");
    w.StartObject();
    duration("success", s.success);
    duration("fail", s.fail);
    duration("queue", s.queue);
    duration("compute_input", s.compute_input);
    duration("compute_infer", s.compute_infer);
    duration("compute_output", s.compute_output);
    w.EndObject();
    w.Key("batch_stats");
    w.StartArray();
    for (const auto& [size, d] : s.batch_compute_infer) {
      w.StartObject();
      w.Key("batch_size");
      w.Int64(size);
      duration("compute_infer", d);
      w.EndObject();
    }
    w.EndArray();
    w.Key("instances");
    w.StartArray();
    for (const auto& instance : r.instances) {
      w.StartObject();
      WriteField(w, "name", instance.name);
      WriteField(w, "device", instance.device);
      WriteUintField(w, "inference_count", instance.inference_count);
      WriteUintField(w, "execution_count", instance.execution_count);
      WriteUintField(w, "cuda_graphs_captured", instance.cuda_graphs.captured);
      WriteUintField(w, "cuda_graph_replays", instance.cuda_graphs.replays);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Finish(buffer);
}

std::string RepositoryIndexJson(const std::vector<ModelVersionInfo>& index) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  for (const ModelVersionInfo& info : index) {
    w.StartObject();
    WriteField(w, "name", info.name);
    WriteField(w, "version", info.version);
    WriteField(w, "state", ModelStateName(info.state));
    WriteField(w, "reason", info.reason);
    w.EndObject();
  }
  w.EndArray();
  return Finish(buffer);
}

}  // namespace tandem
