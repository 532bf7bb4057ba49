// A cache of freed large buffers. A training loop frees and allocates the same sizes every
// step; reusing a buffer that is still mapped skips the page faults (and the kernel's
// zeroing of every page) that a fresh allocation of that size costs.
//
// Buffers below kMinPooledBytes go straight to the C allocator. Freed pooled buffers wait
// in the cache, newest last; past kMaxCachedBytes (or kMaxCachedBuffers) the oldest go back
// to the system. Thread-safe; a forked child starts with the lock free. In AddressSanitizer
// builds the cached bytes are poisoned, so a use after free is still reported.
#pragma once

#include <cstddef>

namespace fastbp::buffer_pool {

constexpr std::size_t kMinPooledBytes = std::size_t(16) << 10;
constexpr std::size_t kMaxCachedBytes = std::size_t(256) << 20;
constexpr std::size_t kMaxCachedBuffers = 128;

// 64-byte aligned storage for nbytes (2 MiB aligned, with a huge-page hint, from 4 MiB up);
// a cached buffer of the same rounded size when there is one. Throws std::bad_alloc.
void* acquire(std::size_t nbytes);

// Gives back a buffer from acquire(nbytes), with the same nbytes.
void release(void* ptr, std::size_t nbytes) noexcept;

// Bytes held in the cache now.
std::size_t cached_bytes();

// Frees every cached buffer; returns how many bytes that was.
std::size_t empty_cache();

}  // namespace fastbp::buffer_pool
