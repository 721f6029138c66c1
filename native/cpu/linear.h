// Fully connected layer in PyTorch's layout: x [N, in], W [out, in], b [out], y [N, out].
//   forward        y  = x W^T + b
//   backward data  dx = dy W            [N, in]
//   backward W     dW = dy^T x (+ beta * dW, so gradients can accumulate)   [out, in]
//   backward b     db = sum over N of dy (+ beta * db)                       [out]
// On ck::cpu::sgemm, but for small batches (the dot products of conv_direct.h, the streamed
// kernels of linear_stream.h); sizes may be zero.
#pragma once
#include <cstdint>
#include <vector>

namespace ck::cpu {

// b may be null (no bias).
void linearForward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in, int64_t out);
void linearBackwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out);
void linearBackwardWeight(const float* dy, const float* x, float* dw, int64_t N, int64_t in, int64_t out, float beta);
void linearBackwardBias(const float* dy, float* db, int64_t N, int64_t out, float beta);

// The batch sizes after which linearForward takes another path (the small-batch dot products,
// the streamed kernel of linear_stream.h, the GEMM), under the active ISA level: within one range
// a row's result does not depend on the batch size or the row's place in it (serving's
// batchInvariant keeps to one range). Ascending; the last range is unbounded.
std::vector<int64_t> linearForwardPathBounds();
// "avx512" where the streamed kernels run, else "off".
const char* linearStreamPathName();

}  // namespace ck::cpu
