// ConfigProblems: every problem found in a repository, each naming its file and key, so that
// `tandem check` can list them all at once instead of stopping at the first.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace tandem {

struct ConfigProblem {
  std::string file;
  std::string key;  // "inputs[0].datatype"; empty for problems with the whole file
  std::string message;

  // "repo/m/model.yaml: inputs[0].datatype: unknown datatype 'FP33' (...)".
  std::string ToString() const;
};

class ConfigProblems {
 public:
  void Add(std::string file, std::string key, std::string message);
  bool empty() const { return problems_.empty(); }
  size_t size() const { return problems_.size(); }
  const std::vector<ConfigProblem>& all() const { return problems_; }

  // OK when empty; else INVALID_ARGUMENT listing every problem.
  Status ToStatus() const;

  // The problems added after the first `first`, joined with "; " (what one model got).
  std::string JoinedSince(size_t first) const;

 private:
  std::vector<ConfigProblem> problems_;
};

}  // namespace tandem
