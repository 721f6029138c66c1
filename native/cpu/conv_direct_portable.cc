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
#define CK_DIRECT_TB 2
inline void copyTail(const float* s, float* d, int64_t n, bool relu) {
  for (int64_t i = 0; i < n; i++) {
    float v = s[i];
    if (relu) {
      v = v + 0.0f;  // as reluv: -0 becomes +0
      if (v < 0.0f) v = 0.0f;
    }
    d[i] = v;
  }
}
#include "conv_direct_kernels.h"
}  // namespace

const Kernels& portableKernels() {
  static const Kernels k{"portable", corr, gemv, copyRows, corrGrad, sumLanes};
  return k;
}

}  // namespace ck::cpu::direct
