// LibTorch exceptions as statuses, with one mapping for the whole server: running out of memory,
// on a device or on the host, is RESOURCE_EXHAUSTED wherever it happens (a forward pass, an op,
// a batch merge, a copy); anything else is INTERNAL. Every place that calls into LibTorch turns
// its exceptions into statuses through here (docs/design/architecture.md §5).
// LibTorch headers: include only from device/, backend/torch/ and backend/ops/.
#pragma once

#include <exception>
#include <string>

#include "core/status.h"

namespace tandem {

// The part of a LibTorch error a caller can act on. Most errors put it on the first line and a
// C++ stack trace after; TorchScript interpreter errors open with a fixed sentence and a
// TorchScript traceback, and put the raised error ("builtins.ValueError: ...") on the last line.
std::string UsefulTorchMessage(const std::string& what);

// `error` as a status whose message is `context` (if any), then what went wrong.
Status TorchErrorStatus(const std::exception& error, const std::string& context);

// Runs `fn` (returning a Status or StatusOr), turning what LibTorch throws into its status.
template <typename Fn>
auto CatchTorch(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return TorchErrorStatus(e, context);
  }
}

}  // namespace tandem
