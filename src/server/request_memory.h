// RequestMemory: one budget for the bytes of request bodies the server holds at once
// (--max-inflight-bytes), shared by the HTTP and gRPC servers, so that many large requests at
// once are refused (503 / UNAVAILABLE, retry later) instead of exhausting the host's memory and
// losing every request in flight to the out-of-memory killer.
//
// A body is counted from its first byte (from its Content-Length, when it has one, before it is
// read) until the last tensor that views it is gone: the hold travels with the body's buffer
// (Owning). The inputs decoded from a body as copies rather than views (JSON values, typed gRPC
// contents) are added to its hold (Hold::AddCopies). Bodies of at most kAlwaysAdmitted bytes are
// counted but never refused, so small requests keep being served while large ones fill the budget
// (the connection limit bounds them).
//
// Thread contract: thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/inference.h"
#include "core/status.h"

namespace tandem {

class RequestMemory {
 public:
  static constexpr uint64_t kAlwaysAdmitted = 64 << 10;

  explicit RequestMemory(uint64_t limit) : limit_(limit) {}

  // Bytes held for one request; released when it is destroyed. Used by one thread at a time
  // (the one reading or decoding the request); the budget it draws on is shared.
  class Hold {
   public:
    ~Hold() { budget_.held_ -= bytes_; }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

    // Grows or shrinks the hold to `bytes`; false (and unchanged) if growing does not fit.
    bool Resize(uint64_t bytes);

    // Adds the bytes of `inputs`, decoded from the held buffer at `buffer`, that are copies
    // rather than views of it (values decoded from JSON or from typed gRPC contents, realigned
    // copies, an image body made a BYTES element): they are the request's memory too, held as
    // long as the buffer. UNAVAILABLE, the hold unchanged, when they do not fit.
    Status AddCopies(const void* buffer, const std::vector<NamedTensor>& inputs);
    uint64_t bytes() const { return bytes_; }

   private:
    friend class RequestMemory;
    explicit Hold(RequestMemory& budget) : budget_(budget) {}
    RequestMemory& budget_;
    uint64_t bytes_ = 0;
  };

  // A hold of `bytes`, or nullptr (counted as a refusal) if that does not fit.
  std::unique_ptr<Hold> TryHold(uint64_t bytes);

  // `body` in a buffer that keeps `hold` until the buffer's last reference goes.
  static std::shared_ptr<const std::string> Owning(std::string body, std::unique_ptr<Hold> hold);

  // The message for a request of `bytes` that did not fit, `own` of which it already holds.
  std::string RefusalMessage(uint64_t bytes, uint64_t own = 0) const;

  uint64_t limit() const { return limit_; }
  uint64_t held() const { return held_; }
  uint64_t refused() const { return refused_; }
  void CountRefusal() { ++refused_; }

 private:
  // Adds `bytes` to what is held unless that passes the limit (small requests always pass).
  bool Take(uint64_t bytes, uint64_t request_bytes);

  const uint64_t limit_;
  std::atomic<uint64_t> held_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace tandem
