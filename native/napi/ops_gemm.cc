// Bindings of native/cpu/gemm and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
#include <algorithm>
#include <string>

#include "../cpu/gemm.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/gemm.h"
#endif

namespace ck {

namespace {

// Elements a row-major rows x cols matrix with row stride ld spans (0 when it is empty).
int64_t spanOf(Args& a, const char* what, int64_t rows, int64_t cols, int64_t ld) {
  if (ld < std::max<int64_t>(1, cols))
    throw Error(Code::Arg, std::string(a.op()) + ": leading dimension of '" + what + "' is " + std::to_string(ld) +
                               ", less than its " + std::to_string(cols) + " columns");
  // Overflow-checked: a wrapped span could pass the tensor size check.
  return rows == 0 || cols == 0 ? 0 : a.product({rows - 1, ld}, what) + cols;
}

// last * stride + one, overflow-checked.
int64_t batchSpan(Args& a, const char* what, int64_t batch, int64_t last, int64_t stride, int64_t one) {
  return batch ? a.product({last, stride}, what) + one : 0;
}

// gemm(stream, a, b, c, transA, transB, M, N, K, alpha, lda, ldb, beta, ldc)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm");
  Device& dev = a.device(0);
  bool tA = a.flag(4), tB = a.flag(5);
  int64_t M = a.count(6, "M"), N = a.count(7, "N"), K = a.count(8, "K");
  float alpha = float(a.f64(9, "alpha"));
  int64_t lda = a.count(10, "lda"), ldb = a.count(11, "ldb");
  float beta = float(a.f64(12, "beta"));
  int64_t ldc = a.count(13, "ldc");
  TensorRef A = a.f32(1, "a", tA ? spanOf(a, "a", K, M, lda) : spanOf(a, "a", M, K, lda));
  TensorRef B = a.f32(2, "b", tB ? spanOf(a, "b", N, K, ldb) : spanOf(a, "b", K, N, ldb));
  TensorRef C = a.f32(3, "c", spanOf(a, "c", M, N, ldc));
  dispatch(dev, "gemm",
           [=](auto& kc) { sgemm(kc, tA, tB, M, N, K, alpha, A.f32(), lda, B.f32(), ldb, beta, C.f32(), ldc); });
  return info.Env().Undefined();
}

// batchedGemm(stream, a, b, c, transA, transB, M, N, K, alpha, lda, strideA, ldb, strideB, beta, ldc,
//             strideC, batch): a stride of 0 shares one matrix across the batch.
Napi::Value BatchedGemm(const Napi::CallbackInfo& info) {
  Args a(info, "batchedGemm");
  Device& dev = a.device(0);
  bool tA = a.flag(4), tB = a.flag(5);
  int64_t M = a.count(6, "M"), N = a.count(7, "N"), K = a.count(8, "K");
  float alpha = float(a.f64(9, "alpha"));
  int64_t lda = a.count(10, "lda"), sA = a.count(11, "strideA");
  int64_t ldb = a.count(12, "ldb"), sB = a.count(13, "strideB");
  float beta = float(a.f64(14, "beta"));
  int64_t ldc = a.count(15, "ldc"), sC = a.count(16, "strideC");
  int64_t batch = a.count(17, "batch");
  int64_t last = std::max<int64_t>(0, batch - 1);
  int64_t oneA = tA ? spanOf(a, "a", K, M, lda) : spanOf(a, "a", M, K, lda);
  int64_t oneB = tB ? spanOf(a, "b", N, K, ldb) : spanOf(a, "b", K, N, ldb);
  int64_t oneC = spanOf(a, "c", M, N, ldc);
  if (batch > 1 && sC < oneC)
    throw Error(Code::Arg, "batchedGemm: the matrices of 'c' overlap (strideC " + std::to_string(sC) + " < " +
                               std::to_string(oneC) + ")");
  TensorRef A = a.f32(1, "a", batchSpan(a, "a", batch, last, sA, oneA));
  TensorRef B = a.f32(2, "b", batchSpan(a, "b", batch, last, sB, oneB));
  TensorRef C = a.f32(3, "c", batchSpan(a, "c", batch, last, sC, oneC));
  dispatch(dev, "batchedGemm", [=](auto& kc) {
    sgemmStridedBatched(kc, tA, tB, M, N, K, alpha, A.f32(), lda, sA, B.f32(), ldb, sB, beta, C.f32(), ldc, sC, batch);
  });
  return info.Env().Undefined();
}

Napi::Value GemmKernelName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cpu::sgemmKernelName());
}

}  // namespace

void registerGemm(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "gemm", Gemm);
  CK_EXPORT(exports, "batchedGemm", BatchedGemm);
  CK_EXPORT(exports, "gemmKernelName", GemmKernelName);
}

}  // namespace ck
