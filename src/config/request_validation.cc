#include "config/request_validation.h"

#include <algorithm>

namespace tandem {
namespace {

std::string Names(const std::vector<TensorConfig>& tensors) {
  std::string out;
  for (const TensorConfig& t : tensors) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

}  // namespace

StatusOr<ValidatedRequest> ValidateRequest(const ModelConfig& config, const InferRequest& request) {
  ValidatedRequest out;
  out.inputs.resize(config.inputs.size());
  std::vector<bool> seen(config.inputs.size(), false);
  int64_t batch = -1;
  for (const NamedTensor& input : request.inputs) {
    size_t index = 0;
    while (index < config.inputs.size() && config.inputs[index].name != input.name) ++index;
    if (index == config.inputs.size()) {
      return InvalidArgument("unknown input '" + input.name + "': model '" + config.name +
                             "' takes " + Names(config.inputs));
    }
    if (seen[index]) return InvalidArgument("input '" + input.name + "' is given twice");
    seen[index] = true;
    const TensorConfig& spec = config.inputs[index];
    const Tensor& t = input.tensor;
    if (t.dtype() != spec.dtype) {
      return InvalidArgument("input '" + input.name + "' has datatype " +
                             std::string(DataTypeName(t.dtype())) + " but model '" + config.name +
                             "' expects " + std::string(DataTypeName(spec.dtype)));
    }
    if (config.batched()) {
      const Shape expected = spec.shape.Prepend(Shape::kAnyDim);
      if (!expected.Accepts(t.shape())) {
        return InvalidArgument("input '" + input.name + "' has shape " + t.shape().ToString() +
                               " but model '" + config.name + "' expects " + expected.ToString() +
                               " (batch size first)");
      }
      const int64_t b = t.shape()[0];
      if (b < 1 || b > config.max_batch_size) {
        return InvalidArgument("input '" + input.name + "' has batch size " + std::to_string(b) +
                               " but model '" + config.name + "' takes 1 to " +
                               std::to_string(config.max_batch_size));
      }
      if (batch >= 0 && b != batch) {
        return InvalidArgument("inputs disagree on the batch size: " + std::to_string(batch) +
                               " and " + std::to_string(b) + " (input '" + input.name + "')");
      }
      batch = b;
    } else if (!spec.shape.Accepts(t.shape())) {
      return InvalidArgument("input '" + input.name + "' has shape " + t.shape().ToString() +
                             " but model '" + config.name + "' expects " + spec.shape.ToString());
    }
    out.inputs[index] = t;
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      return InvalidArgument("missing input '" + config.inputs[i].name + "' for model '" +
                             config.name + "'");
    }
  }
  if (request.requested_outputs.empty()) {
    for (size_t i = 0; i < config.outputs.size(); ++i) out.output_indices.push_back(i);
  }
  for (const std::string& name : request.requested_outputs) {
    size_t index = 0;
    while (index < config.outputs.size() && config.outputs[index].name != name) ++index;
    if (index == config.outputs.size()) {
      return InvalidArgument("unknown output '" + name + "': model '" + config.name + "' returns " +
                             Names(config.outputs));
    }
    if (std::find(out.output_indices.begin(), out.output_indices.end(), index) !=
        out.output_indices.end()) {
      return InvalidArgument("output '" + name + "' already exists in request");
    }
    out.output_indices.push_back(index);
  }
  return out;
}

StatusOr<std::vector<Tensor>> MakeWarmupInputs(const ModelConfig& config, int64_t batch) {
  std::vector<Tensor> inputs;
  for (const TensorConfig& spec : config.inputs) {
    std::vector<int64_t> dims;
    if (config.batched()) dims.push_back(batch);
    auto given = config.warmup_shapes.find(spec.name);
    const Shape& shape_in = given == config.warmup_shapes.end() ? spec.shape : given->second;
    for (int64_t d : shape_in.dims()) dims.push_back(d == Shape::kAnyDim ? 1 : d);
    Shape shape(std::move(dims));
    if (spec.dtype == DataType::kBytes) {
      ASSIGN_OR_RETURN(int64_t count, shape.NumElements());
      ASSIGN_OR_RETURN(Tensor t, Tensor::FromStrings(shape, std::vector<std::string>(count)));
      inputs.push_back(std::move(t));
    } else {
      ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(spec.dtype, std::move(shape)));
      inputs.push_back(std::move(t));
    }
  }
  return inputs;
}

}  // namespace tandem
