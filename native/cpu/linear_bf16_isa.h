// linear_bf16's inner loop, one build per instruction set (linear_bf16_kernels.h).
#pragma once
#include <cstdint>

namespace ck::cpu::bf16 {

// y[n * ldy + o] = bias[o] + sum_k x[n * K + k] * W[o][k] for n < N, o < OC, where row o of W is
// the bf16 run w + o * ldw (uint16 elements); bias may be null.
using RowsFn = void (*)(const float* x, int64_t N, const uint16_t* w, int64_t ldw, const float* bias, int64_t OC,
                        int64_t K, float* y, int64_t ldy);

RowsFn avx512Rows();
RowsFn portableRows();

}  // namespace ck::cpu::bf16
