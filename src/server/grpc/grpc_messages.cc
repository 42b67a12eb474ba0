#include "server/grpc/grpc_messages.h"

#include "server/model_json.h"

namespace tandem {
namespace {

inference::DataType ConfigType(DataType dtype) {
  inference::DataType type = inference::TYPE_INVALID;
  inference::DataType_Parse(ConfigTypeName(dtype), &type);
  return type;
}

void SetDuration(inference::StatisticDuration* out, const DurationStat& d) {
  out->set_count(d.count);
  out->set_ns(d.ns);
}

}  // namespace

void FillModelMetadata(const ModelConfig& config, const std::vector<std::string>& versions,
                       inference::ModelMetadataResponse& out) {
  out.set_name(config.name);
  for (const std::string& v : versions) out.add_versions(v);
  out.set_platform(ModelPlatform(config));
  auto tensors = [&](const std::vector<TensorConfig>& list, auto add) {
    for (const TensorConfig& t : list) {
      inference::ModelMetadataResponse::TensorMetadata* m = add();
      m->set_name(t.name);
      m->set_datatype(std::string(DataTypeName(t.dtype)));
      const Shape shape = config.batched() ? t.shape.Prepend(Shape::kAnyDim) : t.shape;
      for (int64_t d : shape.dims()) m->add_shape(d);
    }
  };
  tensors(config.inputs, [&] { return out.add_inputs(); });
  tensors(config.outputs, [&] { return out.add_outputs(); });
}

void FillModelConfig(const ModelConfig& config, inference::ModelConfig& out) {
  out.set_name(config.name);
  out.set_platform(ModelPlatform(config));
  out.set_backend(config.backend);
  out.set_max_batch_size(static_cast<int32_t>(config.max_batch_size));
  for (const TensorConfig& t : config.inputs) {
    inference::ModelInput* in = out.add_input();
    in->set_name(t.name);
    in->set_data_type(ConfigType(t.dtype));
    for (int64_t d : t.shape.dims()) in->add_dims(d);
  }
  for (const TensorConfig& t : config.outputs) {
    inference::ModelOutput* o = out.add_output();
    o->set_name(t.name);
    o->set_data_type(ConfigType(t.dtype));
    for (int64_t d : t.shape.dims()) o->add_dims(d);
  }
  if (config.dynamic_batching) {
    inference::ModelDynamicBatching* db = out.mutable_dynamic_batching();
    db->set_max_queue_delay_microseconds(
        static_cast<uint64_t>(config.dynamic_batching->max_queue_delay_us));
    for (int64_t b : config.dynamic_batching->preferred_batch_sizes) {
      db->add_preferred_batch_size(static_cast<int32_t>(b));
    }
  }
}

void FillModelStatistics(const std::vector<ModelStatsReport>& reports,
                         inference::ModelStatisticsResponse& out) {
  for (const ModelStatsReport& r : reports) {
    const ModelStatsSnapshot& s = r.stats;
    inference::ModelStatistics* m = out.add_model_stats();
    m->set_name(r.name);
    m->set_version(r.version);
    m->set_last_inference(s.last_inference_ms);
    m->set_inference_count(s.inference_count);
    m->set_execution_count(s.execution_count);
    inference::InferStatistics* stats = m->mutable_inference_stats();
    SetDuration(stats->mutable_success(), s.success);
    SetDuration(stats->mutable_fail(), s.fail);
    SetDuration(stats->mutable_queue(), s.queue);
    SetDuration(stats->mutable_compute_input(), s.compute_input);
    SetDuration(stats->mutable_compute_infer(), s.compute_infer);
    SetDuration(stats->mutable_compute_output(), s.compute_output);
    for (const auto& [size, d] : s.batch_compute_infer) {
      inference::InferBatchStatistics* batch = m->add_batch_stats();
      batch->set_batch_size(static_cast<uint64_t>(size));
      SetDuration(batch->mutable_compute_infer(), d);
    }
  }
}

void FillRepositoryIndex(const std::vector<ModelVersionInfo>& index,
                         inference::RepositoryIndexResponse& out) {
  for (const ModelVersionInfo& info : index) {
    inference::RepositoryIndexResponse::ModelIndex* m = out.add_models();
    m->set_name(info.name);
    m->set_version(info.version);
    m->set_state(std::string(ModelStateName(info.state)));
    m->set_reason(info.reason);
  }
}

}  // namespace tandem
