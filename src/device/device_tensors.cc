#include "device/device_tensors.h"

#include <ATen/ATen.h>

#include <optional>

#include "device/torch_status.h"
#include "device/torch_tensors.h"

namespace tandem {

StatusOr<Tensor> ToHost(const Tensor& tensor) {
  if (tensor.device().kind() != Device::Kind::kCuda) return tensor;
  try {
    ASSIGN_OR_RETURN(at::Tensor view, ToTorch(tensor));
    return FromTorch(MoveTo(view, at::kCPU));
  } catch (const std::exception& e) {
    return TorchErrorStatus(e, "copying a tensor off " + tensor.device().ToString());
  }
}

StatusOr<Tensor> BringTo(const Tensor& tensor, Device target, const DeviceSet& devices) {
  const Device from = tensor.device();
  if (from == target) return tensor;
  switch (from.kind()) {
    case Device::Kind::kCuda:
      if (target.kind() != Device::Kind::kCuda) {
        ASSIGN_OR_RETURN(Tensor host, ToHost(tensor));
        return target.kind() == Device::Kind::kSim ? host.WithDevice(target) : host;
      }
      try {
        ASSIGN_OR_RETURN(at::Tensor view, ToTorch(tensor));
        ASSIGN_OR_RETURN(c10::Device device, ToTorchDevice(target));
        return FromTorch(MoveTo(view, device));
      } catch (const std::exception& e) {
        return TorchErrorStatus(
            e, "copying a tensor from " + from.ToString() + " to " + target.ToString());
      }
    case Device::Kind::kSim:
      if (target.kind() != Device::Kind::kSim) return tensor.WithDevice(Device::Cpu());
      devices.sim(target.index()).Copy(tensor.byte_size());
      return tensor.WithDevice(target);
    case Device::Kind::kCpu:
      return tensor;
  }
  return tensor;
}

StatusOr<Tensor> ConcatOnDevice(const std::vector<const Tensor*>& parts) {
  try {
    std::optional<c10::Device> device;
    std::vector<at::Tensor> views;
    for (const Tensor* part : parts) {
      ASSIGN_OR_RETURN(at::Tensor view, ToTorch(*part));
      if (view.is_cuda()) device = view.device();
      views.push_back(view);
    }
    if (!device) return Internal("merging a batch on the device: no part is on a CUDA device");
    for (at::Tensor& view : views) {
      view = MoveTo(view, *device);
    }
    return FromTorch(at::cat(views, 0));
  } catch (const std::exception& e) {
    return TorchErrorStatus(e, "merging a batch on the device");
  }
}

}  // namespace tandem
