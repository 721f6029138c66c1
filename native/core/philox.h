// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). Stateless: element i of a stream with a
// given (seed, offset) is a pure function of those numbers, so the CPU and CUDA kernels draw the
// same dropout mask and the same initial weights for the same seed. Host and device code.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define CK_HD __host__ __device__ __forceinline__
#else
#define CK_HD inline
#endif

namespace ck {

struct Philox4 {
  uint32_t v[4];
};

CK_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

// Ten rounds on counter (c0..c3) with key (k0, k1).
CK_HD Philox4 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; r++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(M0, c0, &hi0);
    uint32_t lo1 = mulhilo(M1, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += W0;
    k1 += W1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// The 4 random words of block `block` of the stream (seed, offset).
CK_HD Philox4 philoxBlock(uint64_t seed, uint64_t offset, uint64_t block) {
  return philox4x32(uint32_t(block), uint32_t(block >> 32), uint32_t(offset), uint32_t(offset >> 32), uint32_t(seed),
                    uint32_t(seed >> 32));
}

// Word i of the stream: block i/4, lane i%4.
CK_HD uint32_t philoxWord(uint64_t seed, uint64_t offset, uint64_t i) {
  return philoxBlock(seed, offset, i >> 2).v[i & 3];
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
CK_HD float uniformFromWord(uint32_t w) { return float(w >> 8) * (1.0f / 16777216.0f); }

// Standard normal for element i: Box-Muller on the word pair (2*(i%2), 2*(i%2)+1) of block i/2.
CK_HD float philoxNormal(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 b = philoxBlock(seed, offset, i >> 1);
  uint32_t lane = uint32_t(i & 1) * 2;
  float u1 = (float(b.v[lane] >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]: log is finite
  float u2 = uniformFromWord(b.v[lane + 1]);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

}  // namespace ck
