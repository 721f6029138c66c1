// Our own declarations of the few cuBLAS entry points convkit calls, so that no cuBLAS header or
// library is needed to build: the library is opened at run time (cublas_loader.h). The values
// and signatures below are those of cublas_api.h (cuBLAS 12 and 13, LP64 API); when a real
// cublas_v2.h is available at build time, cublas_decl_check.cc compares them with static_asserts.
#pragma once
#include <cuda_runtime_api.h>

#ifdef CONVKIT_CHECK_CUBLAS_DECLS
#include <cublas_v2.h>
#else
struct cublasContext;
#endif

namespace ck::cuda::blas {

#ifdef CONVKIT_CHECK_CUBLAS_DECLS
// The check build uses the real types, so that the function types below must match exactly.
using Handle = cublasHandle_t;
using Status = cublasStatus_t;
using Operation = cublasOperation_t;
using Math = cublasMath_t;
constexpr Operation kOpN = CUBLAS_OP_N, kOpT = CUBLAS_OP_T;
constexpr Math kDefaultMath = CUBLAS_DEFAULT_MATH, kPedanticMath = CUBLAS_PEDANTIC_MATH,
               kTf32Math = CUBLAS_TF32_TENSOR_OP_MATH;
#else
using Handle = cublasContext*;
enum Status : int { kSuccess = 0 };
enum Operation : int { kOpN = 0, kOpT = 1 };
enum Math : int { kDefaultMath = 0, kPedanticMath = 2, kTf32Math = 3 };
#endif

using CreateFn = Status (*)(Handle*);
using DestroyFn = Status (*)(Handle);
using SetStreamFn = Status (*)(Handle, cudaStream_t);
using SetMathModeFn = Status (*)(Handle, Math);
using GetVersionFn = Status (*)(Handle, int*);
using SgemmFn = Status (*)(Handle, Operation, Operation, int, int, int, const float*, const float*, int, const float*,
                           int, const float*, float*, int);
using SgemmStridedBatchedFn = Status (*)(Handle, Operation, Operation, int, int, int, const float*, const float*, int,
                                         long long, const float*, int, long long, const float*, float*, int, long long,
                                         int);
using GetStatusStringFn = const char* (*)(Status);

// The symbol names looked up with dlsym.
constexpr const char* kCreate = "cublasCreate_v2";
constexpr const char* kDestroy = "cublasDestroy_v2";
constexpr const char* kSetStream = "cublasSetStream_v2";
constexpr const char* kSetMathMode = "cublasSetMathMode";
constexpr const char* kGetVersion = "cublasGetVersion_v2";
constexpr const char* kSgemm = "cublasSgemm_v2";
constexpr const char* kSgemmStridedBatched = "cublasSgemmStridedBatched";
constexpr const char* kGetStatusString = "cublasGetStatusString";

}  // namespace ck::cuda::blas
