// Logging setup for the tandem binary: logs go to stderr, as text or as JSON lines.
#pragma once

#include <string>

#include "core/status.h"

namespace tandem {

// `format`: "text" or "json" (one JSON object a line: time in UTC, level, message).
// `level`: trace, debug, info, warn, error. At debug every request is logged with its id.
Status SetUpLogging(const std::string& format, const std::string& level);

}  // namespace tandem
