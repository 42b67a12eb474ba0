// What every LibTorch model backend (torchscript, aoti) does the same way around a forward pass:
// bring the inputs to the instance's device, map a result's items to the config's outputs by
// position, check each output against the config, and the config checks they share. Internal
// to backend/.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/InferenceMode.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"
#include "config/yaml_fields.h"
#include "core/status.h"
#include "core/tensor.h"
#include "device/torch_status.h"

namespace tandem {

// The inputs as LibTorch tensors on `device` (copied there if they are elsewhere).
StatusOr<std::vector<at::Tensor>> InputsOn(const std::vector<Tensor>& inputs, c10::Device device);

// The config's outputs from a result's items, by position: an output's place in `outputs`, or
// its `position:`; a config may declare any of the items.
StatusOr<std::vector<at::Tensor>> OutputsByPosition(const ModelConfig& config,
                                                    std::vector<at::Tensor> items);

// The outputs as Tensors, left on the device that made them (a pipeline's next step reads them
// there; the engine copies to the host only what it answers with), each checked against its
// config: dtype, and shape with the batch size of `inputs` first for batched models.
StatusOr<std::vector<Tensor>> CheckedOutputs(const ModelConfig& config,
                                             const std::vector<at::Tensor>& outputs,
                                             const std::vector<Tensor>& inputs);

// One batch through a LibTorch model: `inputs` brought to `device`, `forward` (the inputs as
// at::Tensors -> StatusOr of the config's outputs, in order) run under inference mode with
// `device` current, the outputs checked; what LibTorch throws becomes a status naming the model.
template <typename Forward>
StatusOr<std::vector<Tensor>> RunModel(const ModelConfig& config, c10::Device device,
                                       const std::vector<Tensor>& inputs, Forward&& forward) {
  return CatchTorch("model '" + config.name + "'", [&]() -> StatusOr<std::vector<Tensor>> {
    c10::InferenceMode inference_mode;
    std::optional<c10::DeviceGuard> device_guard;
    if (device.is_cuda()) device_guard.emplace(device);
    ASSIGN_OR_RETURN(std::vector<at::Tensor> args, InputsOn(inputs, device));
    ASSIGN_OR_RETURN(std::vector<at::Tensor> outputs, forward(std::move(args)));
    return CheckedOutputs(config, outputs, inputs);
  });
}

// The bytes of the storages `weights` (a model's parameters and buffers, or constants) hold,
// each storage counted once however many tensors view it.
uint64_t StorageBytes(const std::vector<at::Tensor>& weights);

// A config check: LibTorch models take and return numeric tensors, never BYTES.
void CheckNumericTensors(const YamlFields& fields, const ModelConfig& config);

}  // namespace tandem
