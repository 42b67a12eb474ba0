#include "config/model_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <set>

#include "config/yaml_fields.h"

namespace tandem {

const TensorConfig* ModelConfig::FindInput(std::string_view name) const {
  for (const TensorConfig& t : inputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const TensorConfig* ModelConfig::FindOutput(std::string_view name) const {
  for (const TensorConfig& t : outputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

size_t ModelConfig::OutputPosition(size_t i) const {
  auto given = output_positions.find(outputs[i].name);
  return given == output_positions.end() ? i : static_cast<size_t>(given->second);
}

bool IsValidModelName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

const BackendRules* FindRules(const std::vector<BackendRules>& backends, std::string_view name) {
  for (const BackendRules& rules : backends) {
    if (rules.name == name) return &rules;
  }
  return nullptr;
}

namespace {

// warmup.shapes: input name -> its shape with every -1 given a size, fixed sizes as declared.
std::map<std::string, Shape> ParseWarmupShapes(const YamlFields& fields, const YAML::Node& node,
                                               const std::vector<TensorConfig>& inputs) {
  std::map<std::string, Shape> shapes;
  if (!node) return shapes;
  if (!node.IsMap()) {
    fields.Problem("warmup.shapes", "must map input names to shapes, e.g. {rgb: [479, 641, 3]}");
    return shapes;
  }
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    const std::string at = "warmup.shapes." + name;
    const TensorConfig* input = nullptr;
    for (const TensorConfig& t : inputs) input = t.name == name ? &t : input;
    if (input == nullptr) {
      fields.Problem(at, "names no input of this model");
      continue;
    }
    YAML::Node holder;
    holder["shape"] = kv.second;
    std::optional<Shape> shape = fields.RequiredShape(holder, at);
    if (!shape) continue;
    bool fits = shape->rank() == input->shape.rank();
    for (size_t i = 0; fits && i < shape->rank(); ++i) {
      fits =
          (*shape)[i] >= 1 && (input->shape[i] == Shape::kAnyDim || input->shape[i] == (*shape)[i]);
    }
    if (!fits) {
      fields.Problem(at, shape->ToString() + " does not fit input '" + name + "' " +
                             input->shape.ToString() +
                             " (same rank, the fixed sizes, a size of at least 1 for each -1)");
      continue;
    }
    shapes.emplace(name, *shape);
  }
  return shapes;
}

std::optional<DynamicBatchingConfig> ParseDynamicBatching(const YamlFields& fields,
                                                          const YAML::Node& node,
                                                          int64_t max_batch_size) {
  if (!node) return std::nullopt;
  const std::string key = "dynamic_batching";
  DynamicBatchingConfig db;
  if (node.IsNull()) return db;
  if (!node.IsMap()) {
    fields.Problem(key, "must be a map");
    return std::nullopt;
  }
  fields.CheckKeys(
      node, key,
      {"max_queue_delay_us", "preferred_batch_sizes", "max_queue_size", "default_timeout_us"});
  db.max_queue_delay_us = fields.OptionalInt(node, key, "max_queue_delay_us", 0, 0);
  db.max_queue_size = fields.OptionalInt(node, key, "max_queue_size", 0, 0);
  db.default_timeout_us = fields.OptionalInt(node, key, "default_timeout_us", 0, 0);
  db.preferred_batch_sizes =
      fields.OptionalIntList(node, key, "preferred_batch_sizes", 1, max_batch_size);
  if (max_batch_size == 0) {
    fields.Problem(key,
                   "needs max_batch_size > 0 (a model without a batch dimension cannot batch)");
  }
  return db;
}

std::vector<InstanceGroupConfig> ParseInstances(const YamlFields& fields, const YAML::Node& node) {
  const std::string key = "instances";
  if (!node) return {InstanceGroupConfig{}};
  std::vector<InstanceGroupConfig> groups;
  if (!node.IsSequence() || node.size() == 0) {
    fields.Problem(key, "must be a non-empty list of {devices, count}");
    return groups;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    const YAML::Node& item = node[i];
    if (!item.IsMap()) {
      fields.Problem(at, "must be a map {devices, count}");
      continue;
    }
    fields.CheckKeys(item, at, {"devices", "count"});
    InstanceGroupConfig group;
    group.count = fields.OptionalInt(item, at, "count", 1, 1);
    const YAML::Node devices = item["devices"];
    if (!devices) {
      // The default: every GPU, else the CPU.
    } else if (devices.IsScalar()) {
      const std::string s = devices.Scalar();
      using S = InstanceGroupConfig::Selector;
      if (s == "auto")
        group.selector = S::kAuto;
      else if (s == "gpu")
        group.selector = S::kGpu;
      else if (s == "cpu")
        group.selector = S::kCpu;
      else if (s == "sim")
        group.selector = S::kSim;
      else {
        auto device = Device::Parse(s);
        if (device.ok()) {
          group.selector = S::kList;
          group.devices.push_back(*device);
        } else {
          fields.Problem(at + ".devices", "'" + s +
                                              "' is not auto, gpu, cpu, sim or a device such as "
                                              "cuda:0");
        }
      }
    } else if (devices.IsSequence() && devices.size() > 0) {
      group.selector = InstanceGroupConfig::Selector::kList;
      for (size_t d = 0; d < devices.size(); ++d) {
        auto device = devices[d].IsScalar() ? Device::Parse(devices[d].Scalar())
                                            : StatusOr<Device>(InvalidArgument("not a string"));
        if (device.ok()) {
          group.devices.push_back(*device);
        } else {
          fields.Problem(at + ".devices[" + std::to_string(d) + "]", device.status().message());
        }
      }
    } else {
      fields.Problem(at + ".devices", "must be auto, gpu, cpu, sim or a list of devices");
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace

ModelConfig ParseModelConfig(std::string_view yaml, const std::string& name,
                             const std::string& file, ConfigProblems& problems,
                             const std::vector<BackendRules>& backends) {
  ModelConfig config;
  config.name = name;
  YAML::Node root;
  if (!LoadYamlMap(yaml, file, "(backend, inputs, outputs, ...)", problems, root)) return config;
  YamlFields fields(file, problems);
  fields.CheckKeys(root, "",
                   {"backend", "max_batch_size", "inputs", "outputs", "dynamic_batching",
                    "instances", "warmup", "cuda_graphs", "parameters"});

  config.backend = fields.RequiredString(root, "", "backend");
  const BackendRules* rules = FindRules(backends, config.backend);
  if (!config.backend.empty() && rules == nullptr) {
    std::string names;
    for (size_t i = 0; i < backends.size(); ++i) {
      names += (i == 0 ? "" : i + 1 == backends.size() ? " or " : ", ") + backends[i].name;
    }
    fields.Problem("backend", "unknown backend '" + config.backend + "' (expected " + names + ")");
  }
  config.max_batch_size = fields.OptionalInt(root, "", "max_batch_size", 0, 0);
  config.inputs = fields.TensorList(root["inputs"], "inputs");
  config.outputs = fields.TensorList(root["outputs"], "outputs", &config.output_positions);
  config.dynamic_batching =
      ParseDynamicBatching(fields, root["dynamic_batching"], config.max_batch_size);
  config.instances = ParseInstances(fields, root["instances"]);

  if (const YAML::Node warmup = root["warmup"]) {
    if (warmup.IsMap()) {
      fields.CheckKeys(warmup, "warmup", {"batch_sizes", "shapes"});
      config.warmup_batch_sizes = fields.OptionalIntList(
          warmup, "warmup", "batch_sizes", 1, std::max<int64_t>(1, config.max_batch_size));
      config.warmup_shapes = ParseWarmupShapes(fields, warmup["shapes"], config.inputs);
      // Shapes alone ask for a warm-up: one batch of one.
      if (config.warmup_batch_sizes.empty() && !config.warmup_shapes.empty()) {
        config.warmup_batch_sizes = {1};
      }
    } else {
      fields.Problem("warmup", "must be a map {batch_sizes: [...], shapes: {input: [...]}}");
    }
  }
  if (const YAML::Node params = root["parameters"]) {
    if (params.IsMap()) {
      for (const auto& kv : params) {
        if (kv.second.IsScalar()) {
          config.parameters[kv.first.Scalar()] = kv.second.Scalar();
        } else {
          fields.Problem("parameters." + kv.first.Scalar(), "must be a single value");
        }
      }
    } else {
      fields.Problem("parameters", "must be a map of names to values");
    }
  }

  config.cuda_graphs = fields.OptionalBool(root, "", "cuda_graphs", false);
  if (config.cuda_graphs) {
    if (rules != nullptr && !rules->cuda_graphs) {
      std::string names;
      for (const BackendRules& b : backends) {
        if (b.cuda_graphs) names += (names.empty() ? "" : ", ") + b.name;
      }
      fields.Problem("cuda_graphs", "only " + names + " models run as CUDA graphs");
    }
    if (config.warmup_batch_sizes.empty()) {
      fields.Problem("cuda_graphs",
                     "graphs are captured at warm-up, one for each of warmup.batch_sizes, which "
                     "names none");
    }
    for (size_t i = 0; i < config.inputs.size(); ++i) {
      if (!config.inputs[i].shape.IsFixed()) {
        fields.Problem("cuda_graphs", "a CUDA graph replays fixed shapes, but inputs[" +
                                          std::to_string(i) + "] ('" + config.inputs[i].name +
                                          "') has shape " + config.inputs[i].shape.ToString());
      }
    }
  }

  if (rules != nullptr && rules->check) rules->check(fields, config);
  return config;
}

}  // namespace tandem
