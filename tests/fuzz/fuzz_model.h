// What the request fuzzers share: the model their requests are validated against, and the
// check that a validated request's tensors hold the bytes they claim.
#pragma once

#include <cstdint>

#include "config/model_config.h"
#include "config/request_validation.h"

namespace tandem::fuzz {

// A batched model with an FP32 input of one free dimension and a BYTES input.
inline const ModelConfig& Model() {
  static const ModelConfig config = [] {
    ModelConfig c;
    c.name = "fuzz";
    c.max_batch_size = 4;
    c.inputs = {{"x", DataType::kFp32, Shape({-1, 2})}, {"s", DataType::kBytes, Shape({1})}};
    c.outputs = {{"y", DataType::kFp32, Shape({2})}};
    return c;
  }();
  return config;
}

// Validates `request` against Model() and, if it passes, reads every byte its tensors claim,
// so that a view past its buffer shows up under ASan.
inline void ValidateAndTouch(const InferRequest& request) {
  auto validated = ValidateRequest(Model(), request);
  if (!validated.ok()) return;
  uint8_t sum = 0;
  for (const Tensor& t : validated->inputs) {
    for (size_t i = 0; i < t.byte_size(); ++i) sum ^= t.data()[i];
  }
  asm volatile("" : : "r"(sum));  // keep the reads
}

}  // namespace tandem::fuzz
