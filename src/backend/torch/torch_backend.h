// The TorchScript backend: runs `N/model.pt` (torch.jit.save) on the CPU or a CUDA device
// through the same device-generic LibTorch code. LibTorch headers stay inside this folder's .cc
// files; LibTorch exceptions become statuses through device/torch_status.h.
#pragma once

#include <memory>

#include "backend/backend_registry.h"

namespace tandem {

// `backend: torchscript`: N/model.pt, v2 platform pytorch_libtorch, CUDA graphs allowed.
BackendDescription TorchScriptBackendDescription();

}  // namespace tandem
