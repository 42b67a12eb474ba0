// JSON documents describing the server and its models, in the v2 shapes (docs/protocols.md) and,
// for /config, the field names that v2 clients such as the performance analyzer read.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "engine/engine.h"

namespace tandem {

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
