#include "device/torch_tensors.h"

#include <c10/cuda/CUDAStream.h>

namespace tandem {

StatusOr<at::ScalarType> ToTorchType(DataType dtype) {
  switch (dtype) {
    case DataType::kBool:
      return at::kBool;
    case DataType::kUint8:
      return at::kByte;
    case DataType::kUint16:
      return at::kUInt16;
    case DataType::kUint32:
      return at::kUInt32;
    case DataType::kUint64:
      return at::kUInt64;
    case DataType::kInt8:
      return at::kChar;
    case DataType::kInt16:
      return at::kShort;
    case DataType::kInt32:
      return at::kInt;
    case DataType::kInt64:
      return at::kLong;
    case DataType::kFp16:
      return at::kHalf;
    case DataType::kBf16:
      return at::kBFloat16;
    case DataType::kFp32:
      return at::kFloat;
    case DataType::kFp64:
      return at::kDouble;
    case DataType::kBytes:
      break;
  }
  return InvalidArgument("LibTorch has no tensor type for " + std::string(DataTypeName(dtype)));
}

StatusOr<DataType> FromTorchType(at::ScalarType type) {
  switch (type) {
    case at::kBool:
      return DataType::kBool;
    case at::kByte:
      return DataType::kUint8;
    case at::kUInt16:
      return DataType::kUint16;
    case at::kUInt32:
      return DataType::kUint32;
    case at::kUInt64:
      return DataType::kUint64;
    case at::kChar:
      return DataType::kInt8;
    case at::kShort:
      return DataType::kInt16;
    case at::kInt:
      return DataType::kInt32;
    case at::kLong:
      return DataType::kInt64;
    case at::kHalf:
      return DataType::kFp16;
    case at::kBFloat16:
      return DataType::kBf16;
    case at::kFloat:
      return DataType::kFp32;
    case at::kDouble:
      return DataType::kFp64;
    default:
      break;
  }
  return InvalidArgument(std::string("tensor type ") + c10::toString(type) + " has no v2 datatype");
}

StatusOr<c10::Device> ToTorchDevice(Device device) {
  switch (device.kind()) {
    case Device::Kind::kCpu:
      return c10::Device(c10::kCPU);
    case Device::Kind::kCuda:
      return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device.index()));
    case Device::Kind::kSim:
      break;
  }
  return InvalidArgument("LibTorch cannot run on " + device.ToString());
}

at::Tensor MoveTo(const at::Tensor& tensor, c10::Device device) {
  if (tensor.device() == device) return tensor;
  if (device.is_cuda() && tensor.is_cpu()) {
    return tensor.pin_memory().to(device, /*non_blocking=*/true);
  }
  if (device.is_cpu() && tensor.is_cuda()) {
    at::Tensor host =
        at::empty(tensor.sizes(), tensor.options().device(at::kCPU).pinned_memory(true));
    host.copy_(tensor, /*non_blocking=*/true);
    c10::cuda::getCurrentCUDAStream(tensor.device().index()).synchronize();
    return host;
  }
  return tensor.to(device, /*non_blocking=*/true);
}

StatusOr<at::Tensor> ToTorch(const Tensor& tensor) {
  ASSIGN_OR_RETURN(at::ScalarType type, ToTorchType(tensor.dtype()));
  // Simulated devices keep their tensors in host memory.
  const c10::Device device =
      tensor.device().kind() == Device::Kind::kCuda
          ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(tensor.device().index()))
          : c10::Device(c10::kCPU);
  std::shared_ptr<const void> owner = tensor.owner();
  // from_blob wants a mutable pointer; the model only reads its inputs (TorchScript modules
  // that write into an input would be writing into a request body no one else reads).
  void* data = const_cast<uint8_t*>(tensor.data());
  return at::from_blob(
      data, tensor.shape().dims(), [owner](void*) mutable { owner.reset(); },
      at::TensorOptions().dtype(type).device(device));
}

StatusOr<Tensor> FromTorch(const at::Tensor& tensor) {
  ASSIGN_OR_RETURN(DataType dtype, FromTorchType(tensor.scalar_type()));
  auto owner = std::make_shared<const at::Tensor>(tensor.contiguous());
  const at::Tensor& t = *owner;
  const Device device = t.is_cuda() ? Device::Cuda(t.get_device()) : Device::Cpu();
  return Tensor::View(dtype, Shape(t.sizes().vec()), t.data_ptr(), t.nbytes(), std::move(owner),
                      device);
}

}  // namespace tandem
