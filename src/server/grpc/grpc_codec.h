// The v2 gRPC infer messages (inference.ModelInferRequest / ModelInferResponse, as Triton's
// clients send and read them) to and from the engine's InferRequest and InferResponse, and the
// one mapping from a Status to a gRPC status.
#pragma once

#include <grpcpp/support/status.h>

#include <memory>

#include "core/inference.h"
#include "core/status.h"
#include "grpc_service.pb.h"

namespace tandem {

// Decodes `message`: inputs from raw_input_contents (one per input, in order; the tensors are
// views of the message, which they keep alive) or from typed contents; requested outputs; the
// `timeout` parameter (µs; 0 is none). Every error names what was wrong, as the HTTP decoder's.
StatusOr<InferRequest> DecodeInferRequest(
    std::shared_ptr<const inference::ModelInferRequest> message);

// Encodes `response` into `message`, each output's bytes in raw_output_contents.
void EncodeInferResponse(const InferResponse& response, inference::ModelInferResponse& message);

// INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED (a body over the limit too),
// UNIMPLEMENTED, UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL; the message as HTTP gives it.
grpc::Status GrpcStatus(const Status& status);

}  // namespace tandem
