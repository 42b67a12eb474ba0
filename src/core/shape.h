// Shape: tensor dimensions. In a model config, -1 marks a dimension of any size.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/status.h"

namespace tandem {

class Shape {
 public:
  static constexpr int64_t kAnyDim = -1;
  // The most dimensions a request's tensor may have (more is refused before any allocation).
  static constexpr size_t kMaxRank = 32;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  const std::vector<int64_t>& dims() const { return dims_; }
  size_t rank() const { return dims_.size(); }
  int64_t operator[](size_t i) const { return dims_[i]; }
  bool operator==(const Shape&) const = default;

  // Product of the dimensions (1 for a scalar). Fails on a negative dimension or when the
  // product overflows int64: callers use it before allocating, so hostile shapes stop here.
  StatusOr<int64_t> NumElements() const;

  // True when no dimension is -1.
  bool IsFixed() const;

  // True when `concrete` has this rank and equals it wherever this shape is not -1.
  bool Accepts(const Shape& concrete) const;

  // A copy with `dim` put in front (e.g. the batch dimension).
  Shape Prepend(int64_t dim) const;

  // "[1, 3, 224, 224]".
  std::string ToString() const;

 private:
  std::vector<int64_t> dims_;
};

}  // namespace tandem
