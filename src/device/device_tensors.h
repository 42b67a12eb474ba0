// Moving and merging tensors that may live on a CUDA device, for layers that cannot see
// LibTorch. Host (and simulated-device) tensors pass through untouched.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "device/device_set.h"

namespace tandem {

// The tensor in host memory: a copy for a CUDA tensor (through pinned memory, waiting only for
// the current stream), the tensor itself otherwise.
StatusOr<Tensor> ToHost(const Tensor& tensor);

// The tensor made ready for a step that runs on `target`, before it joins a batch there:
// - a CUDA tensor from another CUDA device is copied to `target`, non-blocking on the target's
//   current stream (the worker's DeviceStream), peer to peer where the GPUs allow it;
// - a CUDA tensor for a CPU or simulated target comes to the host;
// - a tensor from another simulated GPU holds `target` for bytes / --sim-copy-gbps
// (docs/design/architecture.md §6);
// - anything else stays where it is: host tensors reach a CUDA device when the batch does.
// REQUIRES: `target` is in `devices`.
StatusOr<Tensor> BringTo(const Tensor& tensor, Device target, const DeviceSet& devices);

// Parts concatenated along dim 0 on the CUDA device of their CUDA parts; host parts (requests
// straight from clients, batched with intermediates of a pipeline) are copied there first,
// through pinned memory.
// REQUIRES: the CUDA parts are all on one device; the shapes agree after dim 0.
StatusOr<Tensor> ConcatOnDevice(const std::vector<const Tensor*>& parts);

}  // namespace tandem
