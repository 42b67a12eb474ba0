#include "device/device_tensors.h"

#include <ATen/ATen.h>

#include "device/torch_tensors.h"

namespace tandem {

StatusOr<Tensor> ToHost(const Tensor& tensor) {
  if (tensor.device().kind() != Device::Kind::kCuda) return tensor;
  try {
    ASSIGN_OR_RETURN(at::Tensor view, ToTorch(tensor));
    return FromTorch(view.to(at::kCPU));
  } catch (const std::exception& e) {
    return Internal(std::string("copying a tensor off ") + tensor.device().ToString() + ": " +
                    e.what());
  }
}

StatusOr<Tensor> ConcatOnDevice(const std::vector<const Tensor*>& parts) {
  try {
    std::vector<at::Tensor> views;
    for (const Tensor* part : parts) {
      ASSIGN_OR_RETURN(at::Tensor view, ToTorch(*part));
      views.push_back(view);
    }
    return FromTorch(at::cat(views, 0));
  } catch (const std::exception& e) {
    return Internal(std::string("merging a batch on the device: ") + e.what());
  }
}

}  // namespace tandem
