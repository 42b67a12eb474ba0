#include "device/device_stream.h"

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "device/torch_status.h"

namespace tandem {

struct DeviceStream::Cuda {
  c10::cuda::CUDAStream stream;
};

DeviceStream::DeviceStream(Device device) {
  if (device.kind() != Device::Kind::kCuda) return;
  cuda_ = std::make_unique<Cuda>(Cuda{c10::cuda::getStreamFromPool(
      /*isHighPriority=*/false, static_cast<c10::DeviceIndex>(device.index()))});
}

DeviceStream::~DeviceStream() = default;

Status DeviceStream::Run(const std::function<Status()>& work) {
  if (!cuda_) return work();
  try {
    c10::cuda::CUDAStreamGuard guard(cuda_->stream);  // also makes its device current
    Status status = work();
    at::cuda::CUDAEvent done;
    done.record(cuda_->stream);
    done.synchronize();
    return status;
  } catch (const std::exception& e) {
    return TorchErrorStatus(
        e, "on the stream of cuda:" + std::to_string(cuda_->stream.device_index()));
  }
}

}  // namespace tandem
