// The AOTInductor backend: runs `N/model.pt2`, a package made by torch.export and
// torch._inductor.aoti_compile_and_package, on the CPU or a CUDA device (the device kind it was
// compiled for). Inputs map by config order, outputs by position, as for TorchScript. LibTorch
// headers stay inside this folder's .cc files.
#pragma once

#include "backend/backend_registry.h"

namespace tandem {

// `backend: aoti`: N/model.pt2, v2 platform torch_aoti.
BackendDescription AotiBackendDescription();

}  // namespace tandem
