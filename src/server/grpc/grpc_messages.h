// The v2 gRPC messages describing the server's models — metadata, config, statistics and the
// repository index — filled from the engine's views, field for field what the HTTP routes answer
// in JSON (server/model_json.h).
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "engine/engine.h"
#include "grpc_service.pb.h"
#include "model_config.pb.h"

namespace tandem {

void FillModelMetadata(const ModelConfig& config, const std::vector<std::string>& versions,
                       inference::ModelMetadataResponse& out);

// The fields perf_analyzer and the clients read: name, platform, backend, max_batch_size,
// inputs and outputs (data_type, dims), dynamic batching.
void FillModelConfig(const ModelConfig& config, inference::ModelConfig& out);

void FillModelStatistics(const std::vector<ModelStatsReport>& reports,
                         inference::ModelStatisticsResponse& out);

void FillRepositoryIndex(const std::vector<ModelVersionInfo>& index,
                         inference::RepositoryIndexResponse& out);

}  // namespace tandem
