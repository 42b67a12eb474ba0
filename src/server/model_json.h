// JSON documents describing the server and its models, in the v2 shapes (docs/protocols.md) and,
// for /config, the field names that v2 clients such as the performance analyzer read.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "engine/engine.h"

namespace tandem {

// What the server says of itself and its models on both protocols (HTTP here, and gRPC). The
// extensions are Triton's names for what Tandem implements; clients look them up (the
// performance analyzer reads a model's server-side statistics only when "statistics" is listed).
inline constexpr const char* kServerVersion = "0.1.0";
inline constexpr const char* kServerExtensions[] = {"binary_tensor_data", "model_configuration",
                                                    "model_repository", "statistics"};
// The v2 `platform` of a model (its backend's; "pipeline" for a pipeline).
std::string ModelPlatform(const ModelConfig& config);
// The model-config format's type names ("TYPE_FP32"); BYTES is "TYPE_STRING" there.
std::string ConfigTypeName(DataType dtype);

// GET /v2: {"name", "version", "extensions"}.
std::string ServerMetadataJson();

// GET /v2/models/{m}: name, versions, platform, inputs and outputs (batched models' shapes
// start with -1).
std::string ModelMetadataJson(const ModelConfig& config, const std::vector<std::string>& versions);

// GET /v2/models/{m}/config.
std::string ModelConfigJson(const ModelConfig& config);

// GET /v2/models[/{m}[/versions/{v}]]/stats: {"model_stats": [...]} in the v2 statistics
// shape, each entry with an "instances" list added.
std::string ModelStatsJson(const std::vector<ModelStatsReport>& reports);

// POST /v2/repository/index: [{"name", "version", "state", "reason"}].
std::string RepositoryIndexJson(const std::vector<ModelVersionInfo>& index);

}  // namespace tandem
