// How the process's allocator treats host memory the size of tensors.
//
// Left as it starts, glibc's malloc maps each large block (above 128 KiB, rising to 32 MiB as
// such blocks are freed) straight from the kernel and gives it back on free, and each thread
// that allocates gets an arena whose heaps hold at most 64 MiB. So every forward pass of a CPU
// model, whose activations are new tensors of megabytes, takes fresh zeroed pages: a page fault
// per 4 KiB. Measured on the example's matting net at 683×1024: about 190 000 faults (750 MB of
// fresh pages) per request, and the forward pass three times slower than with the memory kept
// (docs/performance.md).
//
// KeepHostMemoryForReuse makes freed memory stay in the process for the next request: one arena
// (large tensors are few, and small allocations go through each thread's cache without a lock),
// no block mapped separately below 1 GiB, and up to 1 GiB free at the heap's top kept. The
// resident size is then the peak of what requests use at once, which a server reaches anyway.
// Call it first thing in main, before any thread starts.
#pragma once

#include <cstdint>
#include <string>

namespace tandem {

// Applies the settings above, unless the environment configures glibc's malloc itself
// (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES), which
// then wins. Returns a line saying which happened, for the log.
std::string KeepHostMemoryForReuse();

// The host memory this process may use: the machine's physical memory, or its control group's
// limit where that is lower (a container's memory limit).
uint64_t HostMemoryBytes();

}  // namespace tandem
