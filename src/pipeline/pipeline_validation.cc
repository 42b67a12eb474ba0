#include "pipeline/pipeline_validation.h"

#include <map>
#include <optional>

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

void Validate(const PipelineSource& source, const std::map<std::string, const ModelConfig*>& models,
              ConfigProblems& problems) {
  const PipelineConfig& p = source.config;
  const std::string file = source.file.string();
  std::map<std::string, TensorSpec> produced;  // pipeline tensor -> what its producer makes
  for (const TensorConfig& t : p.inputs) produced[t.name] = {t.dtype, t.shape, "pipeline input"};

  // Steps are in dependency order, so every tensor a step reads was recorded before it.
  for (const StepConfig& step : p.steps) {
    const std::string at = "steps[" + step.name + "]";
    if (!step.op.empty()) {
      problems.Add(file, at + ".op",
                   "unknown op '" + step.op + "': this version of tandem has no built-in ops");
      continue;
    }
    auto it = models.find(step.model);
    if (it == models.end()) {
      problems.Add(file, at + ".model", "unknown model '" + step.model + "'");
      continue;
    }
    const ModelConfig& model = *it->second;
    for (const auto& [name, tensor] : step.inputs) {
      const TensorConfig* in = Find(model.inputs, name);
      if (in == nullptr) {
        problems.Add(file, at + ".inputs." + name,
                     "model '" + model.name + "' has no input '" + name + "' (it takes " +
                         Names(model.inputs) + ")");
        continue;
      }
      auto source_spec = produced.find(tensor);
      if (source_spec == produced.end()) continue;  // produced by a step that failed its checks
      const TensorSpec want{in->dtype, FullShape(model, in->shape), ""};
      if (want.dtype != source_spec->second.dtype ||
          !Compatible(want.shape, source_spec->second.shape)) {
        problems.Add(file, at + ".inputs." + name,
                     "tensor '" + tensor + "' is " + Describe(source_spec->second) +
                         " but input '" + name + "' of model '" + model.name + "' takes " +
                         std::string(DataTypeName(want.dtype)) + " " + want.shape.ToString());
      }
    }
    for (const TensorConfig& in : model.inputs) {
      bool bound = false;
      for (const auto& [name, tensor] : step.inputs) bound |= name == in.name;
      if (!bound) {
        problems.Add(file, at + ".inputs",
                     "does not feed input '" + in.name + "' of model '" + model.name + "'");
      }
    }
    for (const auto& [name, tensor] : step.outputs) {
      const TensorConfig* out = Find(model.outputs, name);
      if (out == nullptr) {
        problems.Add(file, at + ".outputs." + name,
                     "model '" + model.name + "' has no output '" + name + "' (it returns " +
                         Names(model.outputs) + ")");
        continue;
      }
      produced[tensor] = {
          out->dtype, FullShape(model, out->shape),
          "output '" + name + "' of model '" + model.name + "' (step " + step.name + ")"};
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
