#include "server/request_memory.h"

namespace tandem {

bool RequestMemory::Take(uint64_t bytes, uint64_t request_bytes) {
  if (request_bytes <= kAlwaysAdmitted) {
    held_ += bytes;
    return true;
  }
  uint64_t held = held_.load();
  do {
    if (held + bytes > limit_) return false;
  } while (!held_.compare_exchange_weak(held, held + bytes));
  return true;
}

bool RequestMemory::Hold::Resize(uint64_t bytes) {
  if (bytes <= bytes_) {
    budget_.held_ -= bytes_ - bytes;
    bytes_ = bytes;
    return true;
  }
  if (!budget_.Take(bytes - bytes_, bytes)) {
    budget_.CountRefusal();
    return false;
  }
  bytes_ = bytes;
  return true;
}

Status RequestMemory::Hold::AddCopies(const void* buffer, const std::vector<NamedTensor>& inputs) {
  uint64_t copies = 0;
  for (const NamedTensor& input : inputs) {
    if (input.tensor.owner().get() != buffer) copies += input.tensor.byte_size();
  }
  if (copies == 0 || Resize(bytes_ + copies)) return Status::Ok();
  return Unavailable(budget_.RefusalMessage(bytes_ + copies, bytes_));
}

std::unique_ptr<RequestMemory::Hold> RequestMemory::TryHold(uint64_t bytes) {
  std::unique_ptr<Hold> hold(new Hold(*this));
  if (!hold->Resize(bytes)) return nullptr;
  return hold;
}

std::shared_ptr<const std::string> RequestMemory::Owning(std::string body,
                                                         std::unique_ptr<Hold> hold) {
  struct Owned {
    std::string body;
    std::unique_ptr<Hold> hold;
  };
  auto owned = std::make_shared<Owned>(Owned{std::move(body), std::move(hold)});
  return std::shared_ptr<const std::string>(owned, &owned->body);
}

std::string RequestMemory::RefusalMessage(uint64_t bytes, uint64_t own) const {
  const uint64_t held_now = held();
  const uint64_t others = held_now > own ? held_now - own : 0;
  return "the server holds " + std::to_string(others) + " bytes of other requests, and this " +
         "one's " + std::to_string(bytes) + " would pass --max-inflight-bytes " +
         std::to_string(limit_) + "; retry shortly";
}

}  // namespace tandem
