// The one mapping of LibTorch exceptions to statuses: out of memory, on a device or on the host,
// is RESOURCE_EXHAUSTED; anything else INTERNAL, with the line of the message that says why.
#include "device/torch_status.h"

#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace tandem {
namespace {

Status Thrown(const std::function<void()>& fn) {
  return CatchTorch("merging a batch", [&]() -> Status {
    fn();
    return Status::Ok();
  });
}

TEST(TorchStatus, DeviceOutOfMemoryIsResourceExhausted) {
  Status s = Thrown([] { TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory."); });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message().rfind("merging a batch: out of memory: CUDA out of memory.", 0), 0u)
      << s.message();
}

TEST(TorchStatus, HostOutOfMemoryIsResourceExhausted) {
  Status s = Thrown([] {
    throw std::runtime_error(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you "
        "tried to allocate 1099511627776 bytes.");
  });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("out of host memory"), std::string::npos) << s.message();
}

TEST(TorchStatus, OtherErrorsAreInternalWithTheUsefulLine) {
  Status s = Thrown([] { throw std::runtime_error("shapes do not match\nframe #0: stack"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "merging a batch: shapes do not match");
  // TorchScript puts the raised error on the last line.
  EXPECT_EQ(UsefulTorchMessage("The following operation failed in the TorchScript interpreter.\n"
                               "Traceback of TorchScript code:\n  ...\n"
                               "builtins.ValueError: bad input"),
            "builtins.ValueError: bad input");
  EXPECT_TRUE(Thrown([] {}).ok());
}

}  // namespace
}  // namespace tandem
