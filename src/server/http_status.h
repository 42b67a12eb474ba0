// The one mapping from Status codes to HTTP status codes.
#pragma once

#include "core/status.h"

namespace tandem {

// invalid argument 400, not found 404, payload too large 413, unimplemented 501,
// unavailable and resource exhausted 503, deadline exceeded 504, internal 500.
int HttpStatusFor(StatusCode code);

}  // namespace tandem
