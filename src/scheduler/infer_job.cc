#include "scheduler/infer_job.h"

#include <algorithm>

namespace tandem {

bool InferJob::MergesWith(const InferJob& other) const {
  if (inputs.size() != other.inputs.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& a = inputs[i].shape().dims();
    const auto& b = other.inputs[i].shape().dims();
    if (a.size() != b.size() || a.empty() || !std::equal(a.begin() + 1, a.end(), b.begin() + 1)) {
      return false;
    }
  }
  return true;
}

}  // namespace tandem
