// Baseline build of the direct convolution's inner loops: the 16-lane vectors lower to four SSE
// registers each, so the register tiles are small (2 channels x 1 vector, 2 x 2 for corrGrad).
// The 64-byte vector type only lives inside this file (static functions), so GCC's note about
// its calling convention without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#include <cstdint>

#include "conv_direct_isa.h"

namespace ck::cpu::direct {
namespace {
#define CK_DIRECT_OB 2
#define CK_GEMV_WIDE_ROWS 2
#define CK_DIRECT_PV 1
#define CK_DIRECT_GB 2
#define CK_DIRECT_R16 2
#define CK_DIRECT_TB 2
// The first n < 16 floats of a vector, element by element (conv_direct_kernels.h's copyRows,
// whose vector type this repeats).
typedef float vf __attribute__((vector_size(64)));
inline vf loadFirst(const float* s, int64_t n) {
  vf v{};
  for (int64_t i = 0; i < n; i++) v[i] = s[i];
  return v;
}
inline void storeFirst(float* d, vf v, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = v[i];
}
#include "conv_direct_kernels.h"
}  // namespace

const Kernels& portableKernels() {
  static const Kernels k{"portable", corr, corr16, gemv, copyRows, poolRows2x2, corrGrad, sumLanes};
  return k;
}

}  // namespace ck::cpu::direct
