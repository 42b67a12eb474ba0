// The Open Inference Protocol v2 infer request and response, in JSON and with the binary data
// extension (docs/protocols.md). Decoding makes zero-copy views over the request body where it can.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/model_config.h"
#include "core/inference.h"

namespace tandem {

// How the client asked for outputs to be encoded.
struct OutputEncoding {
  bool binary_by_default = false;      // request parameter binary_data_output
  std::map<std::string, bool> binary;  // per-output parameter binary_data

  bool IsBinary(const std::string& output) const;
};

struct DecodedRequest {
  InferRequest request;
  OutputEncoding encoding;
};

// Decodes a v2 infer request. `json_length` is the Inference-Header-Content-Length header
// (absent: the whole body is JSON); binary tensor data follows the JSON part.
StatusOr<DecodedRequest> DecodeInferRequest(std::shared_ptr<const std::string> body,
                                            std::optional<size_t> json_length);

// The whole body is the raw bytes of the only input of `config`'s model, batch size 1
// (Inference-Header-Content-Length: 0); one dimension of any size in its shape is the one the
// body's size gives. Outputs are then returned as binary data.
StatusOr<DecodedRequest> DecodeRawInferRequest(std::shared_ptr<const std::string> body,
                                               const ModelConfig& config);

struct EncodedResponse {
  std::string body;
  std::optional<size_t> json_length;  // set when binary data follows the JSON
};

// Encodes a v2 infer response. FP16 and BF16 outputs have no JSON form and always travel as
// binary data.
EncodedResponse EncodeInferResponse(const InferResponse& response, const OutputEncoding& encoding);

}  // namespace tandem
