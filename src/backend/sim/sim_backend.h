// The sim backend: models that run on simulated GPUs (docs/design/architecture.md §6). A batch
// occupies its sim device for latency_us + per_item_us × batch of wall time, and output i = input i
// × scale + offset, elementwise, same shape and dtype, so results can be checked. An instance
// reports holding `weight_bytes` on its device (nothing is allocated), for the memory limits.
#pragma once

#include <memory>

#include "backend/backend_registry.h"
#include "device/device_set.h"

namespace tandem {

// `backend: sim`: no file, accelerates on sim devices; its factory's `devices` must outlive the
// backend and its instances.
BackendDescription SimBackendDescription();

}  // namespace tandem
