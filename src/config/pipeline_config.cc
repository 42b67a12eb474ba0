#include "config/pipeline_config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "config/yaml_fields.h"

namespace tandem {
namespace {

std::map<std::string, StepParam> ParseParams(const YamlFields& fields, const YAML::Node& node,
                                             const std::string& at) {
  std::map<std::string, StepParam> params;
  if (!node) return params;
  if (!node.IsMap()) {
    fields.Problem(at, "must be a map of parameter names to values");
    return params;
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const std::string where = at + "." + key;
    StepParam p;
    bool ok = true;
    if (kv.second.IsScalar()) {
      p.scalar = kv.second.Scalar();
    } else if (kv.second.IsSequence()) {
      p.kind = StepParam::Kind::kList;
      for (const auto& item : kv.second) {
        ok &= item.IsScalar();
        if (item.IsScalar()) p.list.push_back(item.Scalar());
      }
    } else if (kv.second.IsMap()) {
      p.kind = StepParam::Kind::kMap;
      for (const auto& item : kv.second) {
        ok &= item.second.IsScalar();
        if (item.second.IsScalar()) p.map.emplace_back(item.first.Scalar(), item.second.Scalar());
      }
    } else {
      ok = false;
    }
    if (!ok) {
      fields.Problem(where, "must be a value, a list of values or a map of values");
      continue;
    }
    params[key] = std::move(p);
  }
  return params;
}

// Orders steps so that every step follows the producers of its inputs; reports the steps on a
// cycle. `producer` maps each pipeline tensor to the index of the step making it (-1: a
// pipeline input).
std::vector<StepConfig> OrderSteps(const YamlFields& fields, std::vector<StepConfig> steps,
                                   const std::map<std::string, int>& producer) {
  const size_t n = steps.size();
  std::vector<std::set<size_t>> depends_on(n);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& [step_tensor, tensor] : steps[i].inputs) {
      auto it = producer.find(tensor);
      if (it != producer.end() && it->second >= 0) depends_on[i].insert(it->second);
    }
  }
  std::vector<size_t> order;
  std::vector<bool> placed(n, false);
  bool progress = true;
  while (order.size() < n && progress) {
    progress = false;
    for (size_t i = 0; i < n; ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (size_t d : depends_on[i]) ready &= placed[d];
      if (ready) {
        placed[i] = true;
        order.push_back(i);
        progress = true;
      }
    }
  }
  if (order.size() < n) {
    std::string cycle;
    for (size_t i = 0; i < n; ++i) {
      if (!placed[i]) cycle += (cycle.empty() ? "" : ", ") + steps[i].name;
    }
    fields.Problem("steps", "the steps " + cycle + " depend on each other in a cycle");
    return steps;
  }
  std::vector<StepConfig> sorted;
  for (size_t i : order) sorted.push_back(std::move(steps[i]));
  return sorted;
}

}  // namespace

PipelineConfig ParsePipelineConfig(std::string_view yaml, const std::string& name,
                                   const std::string& file, ConfigProblems& problems) {
  PipelineConfig config;
  config.name = name;
  YAML::Node root;
  if (!LoadYamlMap(yaml, file, "(placement, inputs, outputs, steps)", problems, root))
    return config;
  YamlFields fields(file, problems);
  fields.CheckKeys(root, "", {"placement", "inputs", "outputs", "steps"});
  if (const YAML::Node placement = root["placement"]) {
    const std::string p = placement.IsScalar() ? placement.Scalar() : "";
    if (p == "affinity") {
      config.placement = Placement::kAffinity;
    } else if (p == "free") {
      config.placement = Placement::kFree;
    } else {
      fields.Problem("placement", "'" + p + "' is not affinity or free");
    }
  }
  config.inputs = fields.TensorList(root["inputs"], "inputs");
  config.outputs = fields.TensorList(root["outputs"], "outputs");

  const YAML::Node steps = root["steps"];
  if (!steps || !steps.IsSequence() || steps.size() == 0) {
    fields.Problem("steps", "must be a non-empty list of steps");
    return config;
  }
  // Which step (or -1: the pipeline's inputs) produces each pipeline tensor.
  std::map<std::string, int> producer;
  for (const TensorConfig& t : config.inputs) producer[t.name] = -1;
  std::set<std::string> step_names;
  for (size_t i = 0; i < steps.size(); ++i) {
    const YAML::Node& node = steps[i];
    StepConfig step;
    step.name = node.IsMap() && node["name"] && node["name"].IsScalar() ? node["name"].Scalar()
                                                                        : std::to_string(i);
    const std::string at = "steps[" + step.name + "]";
    if (!node.IsMap()) {
      fields.Problem(at, "must be a map {name, model or op, inputs, outputs, params}");
      continue;
    }
    fields.CheckKeys(node, at, {"name", "model", "op", "inputs", "outputs", "params"});
    if (!node["name"]) fields.Problem(at + ".name", "is required");
    if (!step_names.insert(step.name).second) {
      fields.Problem(at + ".name", "another step is also named '" + step.name + "'");
    }
    if (node["model"] && node["model"].IsScalar()) step.model = node["model"].Scalar();
    if (node["op"] && node["op"].IsScalar()) step.op = node["op"].Scalar();
    if (step.model.empty() == step.op.empty()) {
      fields.Problem(at,
                     "needs exactly one of 'model' (a model of the repository) or 'op' (a "
                     "built-in op)");
    }
    step.inputs = fields.NameMap(node["inputs"], at + ".inputs");
    step.outputs = fields.NameMap(node["outputs"], at + ".outputs");
    step.params = ParseParams(fields, node["params"], at + ".params");
    for (const auto& [step_tensor, tensor] : step.outputs) {
      auto [it, fresh] = producer.emplace(tensor, static_cast<int>(i));
      if (!fresh) {
        fields.Problem(at + ".outputs." + step_tensor,
                       "tensor '" + tensor + "' is already produced by " +
                           (it->second < 0 ? std::string("the pipeline's inputs")
                                           : "step " + config.steps[it->second].name));
      }
    }
    config.steps.push_back(std::move(step));
  }
  if (config.steps.size() != steps.size()) return config;  // indices in `producer` would be off

  for (const StepConfig& step : config.steps) {
    for (const auto& [step_tensor, tensor] : step.inputs) {
      if (!producer.count(tensor)) {
        fields.Problem("steps[" + step.name + "].inputs." + step_tensor,
                       "reads tensor '" + tensor +
                           "', which no step and no pipeline input "
                           "produces");
      }
    }
  }
  for (const TensorConfig& out : config.outputs) {
    if (!producer.count(out.name)) {
      fields.Problem("outputs[" + out.name + "]",
                     "no step produces the pipeline output '" + out.name + "'");
    }
  }
  config.steps = OrderSteps(fields, std::move(config.steps), producer);
  return config;
}

}  // namespace tandem
