// Built-in ops: tensor processing that pipelines run as steps on the device (argmax, value
// maps, casts, concatenation and the image ops), so pre- and post-processing need no Python.
//
// An OpKernel is one op bound to one step's params. Pipeline validation asks it what it makes
// of its inputs (Outputs); the pipeline's op instances run it (Run) on their device.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/pipeline_config.h"
#include "config/tensor_config.h"

namespace tandem {

class OpKernel {
 public:
  virtual ~OpKernel() = default;

  // The op's input and output names, as a step's `inputs:`/`outputs:` maps use them.
  virtual std::vector<std::string> input_names() const = 0;
  virtual std::vector<std::string> output_names() const = 0;

  // The outputs' datatypes and full shapes (-1: known only at run time) for inputs like
  // `inputs` (in input_names order), or INVALID_ARGUMENT saying why the op cannot take them.
  virtual StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const = 0;

  // Computes the outputs on `device`. Inputs are in input_names order and match Outputs'
  // expectations; outputs stay on a CUDA device, else are host tensors (tagged with `device`
  // when simulated).
  virtual StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                            Device device) const = 0;
};

// The op of `step` (its `op`, bound to its `params`; concat also reads how many inputs it
// binds), or INVALID_ARGUMENT naming the unknown op or the bad parameter.
StatusOr<std::unique_ptr<OpKernel>> MakeOp(const StepConfig& step);

// An Instance running one op step on one device, so op steps are scheduled like models. The
// instances of a step share its kernel.
std::unique_ptr<Instance> MakeOpInstance(std::shared_ptr<const OpKernel> kernel, Device device);

}  // namespace tandem
