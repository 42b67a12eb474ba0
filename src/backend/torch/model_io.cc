#include "backend/torch/model_io.h"

#include <set>
#include <string>

#include "device/torch_tensors.h"

namespace tandem {
namespace {

// An output must have its config's dtype and shape; batched outputs must keep the batch size.
Status CheckOutput(const ModelConfig& config, const TensorConfig& spec, const Tensor& t,
                   const std::vector<Tensor>& inputs) {
  const std::string where = "output '" + spec.name + "'";
  if (t.dtype() != spec.dtype) {
    return Internal(where + " is " + std::string(DataTypeName(t.dtype())) +
                    " but model.yaml declares " + std::string(DataTypeName(spec.dtype)));
  }
  Shape expected = spec.shape;
  if (config.batched()) {
    const int64_t batch = inputs.empty() ? 1 : inputs.front().shape()[0];
    expected = spec.shape.Prepend(batch);
  }
  if (!expected.Accepts(t.shape())) {
    return Internal(where + " has shape " + t.shape().ToString() + " but model.yaml declares " +
                    expected.ToString() + (config.batched() ? " (batch first)" : ""));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<at::Tensor>> InputsOn(const std::vector<Tensor>& inputs, c10::Device device) {
  std::vector<at::Tensor> args;
  args.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    ASSIGN_OR_RETURN(at::Tensor t, ToTorch(input));
    args.push_back(MoveTo(t, device));
  }
  return args;
}

StatusOr<std::vector<at::Tensor>> OutputsByPosition(const ModelConfig& config,
                                                    std::vector<at::Tensor> items) {
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < config.outputs.size(); ++i) {
    const size_t position = config.OutputPosition(i);
    if (position >= items.size()) {
      return Internal("output '" + config.outputs[i].name + "' is item " +
                      std::to_string(position) + " of the result, but the model returned " +
                      std::to_string(items.size()) + " item(s)");
    }
    out.push_back(items[position]);
  }
  return out;
}

StatusOr<std::vector<Tensor>> CheckedOutputs(const ModelConfig& config,
                                             const std::vector<at::Tensor>& outputs,
                                             const std::vector<Tensor>& inputs) {
  std::vector<Tensor> converted;
  converted.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    ASSIGN_OR_RETURN(Tensor t, FromTorch(outputs[i]));
    RETURN_IF_ERROR(CheckOutput(config, config.outputs[i], t, inputs));
    converted.push_back(std::move(t));
  }
  return converted;
}

void CheckNumericTensors(const YamlFields& fields, const ModelConfig& config) {
  auto no_bytes = [&](const std::vector<TensorConfig>& tensors, const std::string& key) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (tensors[i].dtype == DataType::kBytes) {
        fields.Problem(key + "[" + std::to_string(i) + "].datatype",
                       config.backend + " models take and return numeric tensors, not BYTES");
      }
    }
  };
  no_bytes(config.inputs, "inputs");
  no_bytes(config.outputs, "outputs");
}

uint64_t StorageBytes(const std::vector<at::Tensor>& weights) {
  std::set<const void*> seen;
  uint64_t bytes = 0;
  for (const at::Tensor& t : weights) {
    if (!t.defined() || !t.has_storage()) continue;
    const c10::Storage& storage = t.storage();
    if (seen.insert(storage.unsafeGetStorageImpl()).second) bytes += storage.nbytes();
  }
  return bytes;
}

}  // namespace tandem
