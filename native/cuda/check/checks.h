// The groups of kernel checks; each runs the CUDA kernels of its families against the CPU twins
// on the same seeded inputs at odd shapes and prints one JSON line per comparison.
#pragma once
#include "../context.h"

namespace ck::check {

void checkElementwise(cuda::Ctx& ctx);    // elementwise, activation, dropout, optim, channel affine
void checkConvFamily(cuda::Ctx& ctx);     // im2col, col2im, gemm, conv2d, linear
void checkOtherFamilies(cuda::Ctx& ctx);  // pool, lrn, loss, rbf, kernel faults, allocator
// GFLOP/s of cuda::sgemm at the sizes scripts/check-gpu.sh also times with PyTorch.
void benchGemm(cuda::Ctx& ctx);

}  // namespace ck::check
