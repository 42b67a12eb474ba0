// The TorchScript backend: runs `N/model.pt` (torch.jit.save) on the CPU or a CUDA device
// through the same device-generic LibTorch code. LibTorch headers stay inside this folder's .cc
// files, and LibTorch exceptions are caught here and nowhere else (docs/design/architecture.md §5).
#pragma once

#include <memory>

#include "backend/backend.h"

namespace tandem {

std::unique_ptr<Backend> MakeTorchScriptBackend();

}  // namespace tandem
