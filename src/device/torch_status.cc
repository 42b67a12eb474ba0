#include "device/torch_status.h"

#include <c10/util/Exception.h>

#include <vector>

namespace tandem {
namespace {

// A failed host allocation: LibTorch's CPU allocator raises a plain error, not OutOfMemoryError.
bool IsHostOutOfMemory(const std::string& what) {
  return what.find("DefaultCPUAllocator: can't allocate memory") != std::string::npos ||
         what.find("DefaultCPUAllocator: not enough memory") != std::string::npos;
}

}  // namespace

std::string UsefulTorchMessage(const std::string& what) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < what.size()) {
    size_t end = what.find('\n', start);
    if (end == std::string::npos) end = what.size();
    if (end > start) lines.push_back(what.substr(start, end - start));
    start = end + 1;
  }
  if (lines.empty()) return what;
  if (lines.front().find("failed in the TorchScript interpreter") != std::string::npos) {
    return lines.back();
  }
  return lines.front();
}

Status TorchErrorStatus(const std::exception& error, const std::string& context) {
  const std::string prefix = context.empty() ? "" : context + ": ";
  const std::string message = UsefulTorchMessage(error.what());
  if (dynamic_cast<const c10::OutOfMemoryError*>(&error) != nullptr) {
    return Status(StatusCode::kResourceExhausted, prefix + "out of memory: " + message);
  }
  if (IsHostOutOfMemory(error.what())) {
    return Status(StatusCode::kResourceExhausted, prefix + "out of host memory: " + message);
  }
  return Internal(prefix + message);
}

}  // namespace tandem
