#include "device/host_memory.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

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

uint64_t HostMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  uint64_t bytes = pages > 0 && page_size > 0
                       ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                       : 0;
  // cgroup v2, then v1; "max" (v2) or a huge number (v1) means no limit.
  for (const char* file :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(file);
    uint64_t limit = 0;
    if (in >> limit && limit > 0) {
      bytes = bytes == 0 ? limit : std::min(bytes, limit);
      break;
    }
  }
  return bytes;
}

}  // namespace tandem
