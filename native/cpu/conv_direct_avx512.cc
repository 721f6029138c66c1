// AVX-512 build of the direct convolution's inner loops: 16-lane vectors in zmm registers,
// register tiles of 6 channels x 4 vectors (corr) and 4 channels x 6 taps (corrGrad), which
// leaves a few of the 32 registers for the loaded operands. Reached only when the CPU reports
// avx512f (conv_direct.cc).
#include <immintrin.h>

#include <cstdint>

#include "conv_direct_isa.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#pragma GCC optimize("fp-contract=fast")

namespace ck::cpu::direct {
namespace {
#define CK_DIRECT_OB 6
#define CK_DIRECT_PV 4
#define CK_DIRECT_GB 4
#define CK_DIRECT_R16 8
#define CK_DIRECT_TB 6
// The first n < 16 floats of a vector: one masked load or store (conv_direct_kernels.h's copyRows,
// whose vector type this repeats).
typedef float vf __attribute__((vector_size(64)));
inline vf loadFirst(const float* s, int64_t n) { return vf(_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), s)); }
inline void storeFirst(float* d, vf v, int64_t n) { _mm512_mask_storeu_ps(d, __mmask16((1u << n) - 1), __m512(v)); }
#include "conv_direct_kernels.h"
}  // namespace

const Kernels& avx512Kernels() {
  static const Kernels k{"avx512", corr, corr16, gemv, copyRows, poolRows2x2, corrGrad, sumLanes};
  return k;
}

}  // namespace ck::cpu::direct

#pragma GCC pop_options
