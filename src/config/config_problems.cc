#include "config/config_problems.h"

namespace tandem {

std::string ConfigProblem::ToString() const {
  return key.empty() ? file + ": " + message : file + ": " + key + ": " + message;
}

void ConfigProblems::Add(std::string file, std::string key, std::string message) {
  problems_.push_back({std::move(file), std::move(key), std::move(message)});
}

Status ConfigProblems::ToStatus() const {
  if (problems_.empty()) return Status::Ok();
  std::string message;
  for (const ConfigProblem& p : problems_) {
    if (!message.empty()) message += "; ";
    message += p.ToString();
  }
  return InvalidArgument(message);
}

}  // namespace tandem
