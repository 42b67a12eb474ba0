// PipelineConfig: a pipeline.yaml, parsed and checked as a graph (docs/configuration.md).
//
// A pipeline is a DAG of steps; each step is a model or a built-in op. A step's `inputs` and
// `outputs` map the step's tensor names to pipeline tensor names. This layer checks the file and
// the graph (every tensor produced once, nothing read that nobody produces, no cycles, every
// output produced); checking steps against the models and ops they name is pipeline/'s job.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config_problems.h"
#include "config/tensor_config.h"

namespace tandem {

enum class Placement {
  kAffinity,  // a request's steps stay on one device wherever every step has an instance there
  kFree,      // each step goes to the least-loaded instance anywhere
};

// A step parameter as written: a scalar (kept as text), a list of scalars, or a map of scalars.
struct StepParam {
  std::string scalar;
  std::vector<std::string> list;
  std::vector<std::pair<std::string, std::string>> map;
  enum class Kind { kScalar, kList, kMap } kind = Kind::kScalar;
};

struct StepConfig {
  std::string name;
  std::string model;  // exactly one of model and op is set
  std::string op;
  std::vector<std::pair<std::string, std::string>> inputs;   // step tensor -> pipeline tensor
  std::vector<std::pair<std::string, std::string>> outputs;  // step tensor -> pipeline tensor
  std::map<std::string, StepParam> params;
};

struct PipelineConfig {
  std::string name;  // the pipeline's folder name
  Placement placement = Placement::kAffinity;
  std::vector<TensorConfig> inputs;   // full shapes, batch dimension included
  std::vector<TensorConfig> outputs;  // full shapes
  std::vector<StepConfig> steps;      // in an order where every step follows its producers
};

// Parses `yaml` (the text of `file`) for the pipeline `name`. Every problem is added to
// `problems`; the result is meaningful only if none was added. On success `steps` are sorted
// so that each step comes after the steps whose outputs it reads.
PipelineConfig ParsePipelineConfig(std::string_view yaml, const std::string& name,
                                   const std::string& file, ConfigProblems& problems);

}  // namespace tandem
