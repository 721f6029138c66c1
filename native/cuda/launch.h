// Grid arithmetic shared by the kernels: one thread per element with a grid-stride loop, so any
// int64 size fits in a bounded grid.
#pragma once
#include <cstdint>

namespace ck::cuda {

constexpr int kThreads = 256;

inline unsigned gridFor(int64_t n) {
  int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  return unsigned(blocks);
}

#define CK_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

}  // namespace ck::cuda
