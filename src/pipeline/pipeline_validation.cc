#include "pipeline/pipeline_validation.h"

#include <algorithm>
#include <map>
#include <optional>

#include "backend/ops/op.h"

namespace tandem {
namespace {

// What a tensor must look like where it is produced or consumed: full shape, batch first.
struct TensorSpec {
  DataType dtype;
  Shape shape;
  std::string where;  // "pipeline input", "output 'd0' of model 'segmenter' (step segment)"
};

Shape FullShape(const ModelConfig& model, const Shape& shape) {
  return model.batched() ? shape.Prepend(Shape::kAnyDim) : shape;
}

// True when some concrete shape satisfies both (equal rank, equal where both are fixed).
bool Compatible(const Shape& a, const Shape& b) {
  if (a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    if (a[i] != Shape::kAnyDim && b[i] != Shape::kAnyDim && a[i] != b[i]) return false;
  }
  return true;
}

std::string Describe(const TensorSpec& s) {
  return std::string(DataTypeName(s.dtype)) + " " + s.shape.ToString() + " from " + s.where;
}

const TensorConfig* Find(const std::vector<TensorConfig>& list, const std::string& name) {
  for (const TensorConfig& t : list) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string Names(const std::vector<TensorConfig>& list) {
  std::string out;
  for (const TensorConfig& t : list) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

// The config an op step is checked and scheduled with: the op's inputs as their producers make
// them, its outputs as the op derives them. Problems are added; nullopt if there were any.
std::optional<ModelConfig> OpStepConfig(const PipelineConfig& p, const StepConfig& step,
                                        const std::map<std::string, TensorSpec>& produced,
                                        const std::string& file, ConfigProblems& problems) {
  const std::string at = "steps[" + step.name + "]";
  auto kernel = MakeOp(step);
  if (!kernel.ok()) {
    problems.Add(file, at + ".op", kernel.status().message());
    return std::nullopt;
  }
  ModelConfig config;
  config.name = p.name + "/" + step.name;
  config.backend = "op";
  for (const std::string& name : (*kernel)->input_names()) {
    auto bound = std::find_if(step.inputs.begin(), step.inputs.end(),
                              [&](const auto& kv) { return kv.first == name; });
    if (bound == step.inputs.end()) {
      problems.Add(file, at + ".inputs",
                   "does not feed input '" + name + "' of op '" + step.op + "'");
      return std::nullopt;
    }
    auto spec = produced.find(bound->second);
    if (spec == produced.end()) return std::nullopt;  // its producer failed its own checks
    config.inputs.push_back({name, spec->second.dtype, spec->second.shape});
  }
  for (const auto& [name, tensor] : step.inputs) {
    if (Find(config.inputs, name) == nullptr) {
      problems.Add(file, at + ".inputs." + name,
                   "op '" + step.op + "' has no input '" + name + "' (it takes " +
                       Names(config.inputs) + ")");
      return std::nullopt;
    }
  }
  auto outputs = (*kernel)->Outputs(config.inputs);
  if (!outputs.ok()) {
    problems.Add(file, at, "op '" + step.op + "': " + outputs.status().message());
    return std::nullopt;
  }
  config.outputs = std::move(*outputs);
  return config;
}

void Validate(PipelineSource& source, const std::map<std::string, const ModelConfig*>& models,
              ConfigProblems& problems) {
  const PipelineConfig& p = source.config;
  const std::string file = source.file.string();
  std::map<std::string, TensorSpec> produced;  // pipeline tensor -> what its producer makes
  for (const TensorConfig& t : p.inputs) produced[t.name] = {t.dtype, t.shape, "pipeline input"};

  // Steps are in dependency order, so every tensor a step reads was recorded before it.
  for (const StepConfig& step : p.steps) {
    const std::string at = "steps[" + step.name + "]";
    const ModelConfig* model_ptr = nullptr;
    std::string what;  // "model 'segmenter'" or "op 'argmax'"
    if (!step.op.empty()) {
      auto config = OpStepConfig(p, step, produced, file, problems);
      if (!config) continue;
      model_ptr = &(source.op_configs[step.name] = std::move(*config));
      what = "op '" + step.op + "'";
    } else {
      auto it = models.find(step.model);
      if (it == models.end()) {
        problems.Add(file, at + ".model", "unknown model '" + step.model + "'");
        continue;
      }
      model_ptr = it->second;
      what = "model '" + step.model + "'";
    }
    const ModelConfig& model = *model_ptr;
    for (const auto& [name, tensor] : step.inputs) {
      const TensorConfig* in = Find(model.inputs, name);
      if (in == nullptr) {
        problems.Add(file, at + ".inputs." + name,
                     what + " has no input '" + name + "' (it takes " + Names(model.inputs) + ")");
        continue;
      }
      auto source_spec = produced.find(tensor);
      if (source_spec == produced.end()) continue;  // produced by a step that failed its checks
      const TensorSpec want{in->dtype, FullShape(model, in->shape), ""};
      if (want.dtype != source_spec->second.dtype ||
          !Compatible(want.shape, source_spec->second.shape)) {
        problems.Add(file, at + ".inputs." + name,
                     "tensor '" + tensor + "' is " + Describe(source_spec->second) +
                         " but input '" + name + "' of " + what + " takes " +
                         std::string(DataTypeName(want.dtype)) + " " + want.shape.ToString());
      }
    }
    for (const TensorConfig& in : model.inputs) {
      bool bound = false;
      for (const auto& [name, tensor] : step.inputs) bound |= name == in.name;
      if (!bound) {
        problems.Add(file, at + ".inputs", "does not feed input '" + in.name + "' of " + what);
      }
    }
    for (const auto& [name, tensor] : step.outputs) {
      const TensorConfig* out = Find(model.outputs, name);
      if (out == nullptr) {
        problems.Add(
            file, at + ".outputs." + name,
            what + " has no output '" + name + "' (it returns " + Names(model.outputs) + ")");
        continue;
      }
      produced[tensor] = {out->dtype, FullShape(model, out->shape),
                          "output '" + name + "' of " + what + " (step " + step.name + ")"};
    }
  }
  for (const TensorConfig& out : p.outputs) {
    auto it = produced.find(out.name);
    if (it == produced.end()) continue;
    if (out.dtype != it->second.dtype || !Compatible(out.shape, it->second.shape)) {
      problems.Add(file, "outputs[" + out.name + "]",
                   "declared " + std::string(DataTypeName(out.dtype)) + " " + out.shape.ToString() +
                       " but it is " + Describe(it->second));
    }
  }
}

}  // namespace

void ValidatePipelines(RepositoryScan& scan) {
  std::map<std::string, const ModelConfig*> models;
  for (const ModelSource& m : scan.models) models[m.config.name] = &m.config;
  std::vector<PipelineSource> valid;
  for (PipelineSource& source : scan.pipelines) {
    const size_t before = scan.problems.size();
    Validate(source, models, scan.problems);
    if (scan.problems.size() == before) {
      valid.push_back(std::move(source));
    } else {
      scan.rejected[source.config.name] = scan.problems.JoinedSince(before);
    }
  }
  scan.pipelines = std::move(valid);
}

}  // namespace tandem
