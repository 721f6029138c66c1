// The direct convolution's inner loops, one table per instruction set (conv_direct_kernels.h).
#pragma once
#include <cstdint>

namespace ck::cpu::direct {

struct Kernels {
  const char* name;
  // out[o * ldo + p] = bias[o] + sum_t w[o * T + t] * in[off[t] + p], o < OC, p < P (P % 16 == 0).
  void (*corr)(const float* in, const int32_t* off, int64_t T, const float* w, const float* bias, int64_t OC, int64_t P,
               float* out, int64_t ldo);
  // corr's out for 16 channels at the valid positions p = oh * wp + ow (oh < OH, ow < OW) only,
  // wT the weights transposed (wT[t * 16 + o] = w[o * T + t]); the other positions are not written.
  void (*corr16)(const float* in, const int32_t* off, int64_t T, const float* wT, const float* bias, int64_t OH,
                 int64_t OW, int64_t wp, float* out, int64_t ldo);
  // y[n * ldy + o] = bias[o] + sum_k x[n * K + k] * w[o * K + k], n < N, o < OC (bias may be null).
  void (*gemv)(const float* x, int64_t N, const float* w, const float* bias, int64_t OC, int64_t K, float* y,
               int64_t ldy);
  // dst[r * dstStride + i] = src[r * srcStride + i] for r < rows, i < len; through the ReLU
  // (activation.h's reluOf of v + 0) when relu is set.
  void (*copyRows)(const float* src, int64_t srcStride, float* dst, int64_t dstStride, int64_t rows, int64_t len,
                   bool relu);
  // dst [oh, ow] = the 2x2 / 2 max pool of wide rows (row stride wp, 32 floats of slack past
  // row 2 * oh - 1), through the ReLU first when relu is set.
  void (*poolRows2x2)(const float* wide, int64_t wp, int64_t oh, int64_t ow, float* dst, bool relu);
  // dw[(o * T + t) * 16 + lane] += lanes of sum_{p < P} d[o * ldd + p] * in[off[t] + p], o < OC,
  // t < T (P % 16 == 0): 16 partial sums per weight, folded by sumLanes.
  void (*corrGrad)(const float* d, int64_t ldd, const float* in, const int32_t* off, int64_t T, int64_t OC, int64_t P,
                   float* dw);
  // out[i] = sum of v[i * 16 + lane] over the 16 lanes, i < n.
  void (*sumLanes)(const float* v, int64_t n, float* out);
};

const Kernels& avx512Kernels();
const Kernels& portableKernels();

}  // namespace ck::cpu::direct
