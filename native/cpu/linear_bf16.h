// Inference-only fully connected layer with bf16 weights (Model.compilePredictor's
// `precision: 'bf16'`): at batch 1 a Linear layer reads every weight once per call, so halving
// the bytes roughly halves AlexNet's fc6-fc8 time, which is bound by memory bandwidth.
//
// Packed layout: W [out, in] fp32 becomes [out, inPairs(in)] int32, each int32 holding two bf16
// (element 2j in the low half, 2j + 1 in the high half, little endian), so row o's bf16 values
// are the uint16 run at ((const uint16_t*)packed) + o * 2 * inPairs(in). An odd `in` leaves one
// zero half at the end of each row. Rounding is to nearest, ties to even; a NaN stays a NaN
// (quiet, sign kept); infinities and signed zeros are kept; finite values past bf16's largest
// round to infinity, as an RNE conversion does.
//
// Forward widens each bf16 weight to fp32 in registers (a 16-bit shift) and accumulates in fp32
// with fp32 activations, so the only error against fp32 is the weights' rounding (relative
// 2^-9 per weight): vdpbf16ps would also round the activations to bf16 and need AVX512_BF16,
// for a compute saving that a bandwidth-bound loop does not need.
#pragma once
#include <cstdint>

namespace ck::cpu {

inline int64_t bf16InPairs(int64_t in) { return (in + 1) / 2; }

// One fp32 value as bf16 bits (round to nearest even; NaN kept NaN).
inline uint16_t bf16FromFloat(uint32_t bits) {
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((bits >> 16) | 0x0040u);
  return uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// packed [out, bf16InPairs(in)] = W [out, in] rounded to bf16.
void packBf16(const float* w, int32_t* packed, int64_t out, int64_t in);
// y [N, out] = x [N, in] * W^T + b with W packed by packBf16; b may be null. Sizes may be zero.
void linearBf16Forward(const float* x, const int32_t* packed, const float* b, float* y, int64_t N, int64_t in,
                       int64_t out);
// The build linearBf16Forward runs under the active ISA level: "avx512" or "portable".
const char* linearBf16PathName();

}  // namespace ck::cpu
