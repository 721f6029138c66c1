// Fully connected layer on the device: native/cpu/linear.h's layout, names and arguments plus
// the context, on cuBLAS through cuda::sgemm.
#pragma once
#include <cstdint>

#include "context.h"

namespace ck::cuda {

void linearForward(Ctx& ctx, const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in,
                   int64_t out);
void linearBackwardData(Ctx& ctx, const float* dy, const float* w, float* dx, int64_t N, int64_t in, int64_t out);
void linearBackwardWeight(Ctx& ctx, const float* dy, const float* x, float* dw, int64_t N, int64_t in, int64_t out,
                          float beta);
void linearBackwardBias(Ctx& ctx, const float* dy, float* db, int64_t N, int64_t out, float beta);

}  // namespace ck::cuda
