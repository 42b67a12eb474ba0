#include "core/shape.h"

namespace tandem {

StatusOr<int64_t> Shape::NumElements() const {
  int64_t count = 1;
  for (int64_t d : dims_) {
    if (d < 0) return InvalidArgument("shape " + ToString() + " has a negative dimension");
    if (d != 0 && count > INT64_MAX / d) {
      return InvalidArgument("shape " + ToString() + " has more elements than fit in 64 bits");
    }
    count *= d;
  }
  return count;
}

bool Shape::IsFixed() const {
  for (int64_t d : dims_) {
    if (d == kAnyDim) return false;
  }
  return true;
}

bool Shape::Accepts(const Shape& concrete) const {
  if (concrete.rank() != rank()) return false;
  for (size_t i = 0; i < rank(); ++i) {
    if (dims_[i] != kAnyDim && dims_[i] != concrete[i]) return false;
  }
  return true;
}

Shape Shape::Prepend(int64_t dim) const {
  std::vector<int64_t> dims;
  dims.reserve(dims_.size() + 1);
  dims.push_back(dim);
  dims.insert(dims.end(), dims_.begin(), dims_.end());
  return Shape(std::move(dims));
}

std::string Shape::ToString() const {
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

}  // namespace tandem
