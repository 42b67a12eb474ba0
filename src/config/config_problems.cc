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
  return InvalidArgument(JoinedSince(0));
}

std::string ConfigProblems::JoinedSince(size_t first) const {
  std::string message;
  for (size_t i = first; i < problems_.size(); ++i) {
    if (!message.empty()) message += "; ";
    message += problems_[i].ToString();
  }
  return message;
}

}  // namespace tandem
