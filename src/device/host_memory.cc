#include "device/host_memory.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tandem {

std::string KeepHostMemoryForReuse() {
#if defined(__GLIBC__)
  for (const char* name :
       {"MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(name) != nullptr) {
      return std::string("host memory: malloc as the environment sets it (") + name + ")";
    }
  }
  constexpr int kGiB = 1 << 30;
  if (mallopt(M_ARENA_MAX, 1) == 1 && mallopt(M_MMAP_THRESHOLD, kGiB) == 1 &&
      mallopt(M_TRIM_THRESHOLD, kGiB) == 1) {
    return "host memory: freed tensors are kept for reuse (one malloc arena, blocks below 1 GiB "
           "from the heap)";
  }
  return "host memory: malloc refused the reuse settings; it maps and unmaps large blocks";
#else
  return "host memory: the C library's malloc as it is";
#endif
}

}  // namespace tandem
