// The CUDA stream an instance worker queues its batches on (docs/design/architecture.md §4: one
// worker per instance owns that instance's device stream). Header free of LibTorch, for the
// scheduler.
#pragma once

#include <functional>
#include <memory>

#include "core/device.h"
#include "core/status.h"

namespace tandem {

class DeviceStream {
 public:
  // For a CUDA device, a stream of LibTorch's pool for it; for the CPU and simulated devices,
  // none: Run only calls the work.
  explicit DeviceStream(Device device);
  ~DeviceStream();
  DeviceStream(const DeviceStream&) = delete;
  DeviceStream& operator=(const DeviceStream&) = delete;

  // Runs `work` on the calling thread with this stream current on its device, so that every
  // copy and kernel `work` launches through LibTorch is queued on it, then waits for that work
  // with an event recorded on this stream: other streams and the rest of the device run on
  // (no device-wide synchronisation). When Run returns, the tensors `work` made are complete,
  // so any other stream may read them.
  Status Run(const std::function<Status()>& work);

 private:
  struct Cuda;
  std::unique_ptr<Cuda> cuda_;
};

}  // namespace tandem
