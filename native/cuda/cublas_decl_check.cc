// Built only when CMake finds a cublas_v2.h (CONVKIT_CUBLAS_INCLUDE): proves at compile time that
// the declarations in cublas_api.h match the real ones, so a signature drift in a new cuBLAS
// fails the build instead of corrupting a call at run time.
#include <type_traits>

#include "cublas_api.h"

namespace ck::cuda::blas {

static_assert(std::is_same_v<decltype(&::cublasCreate_v2), CreateFn>, "cublasCreate_v2");
static_assert(std::is_same_v<decltype(&::cublasDestroy_v2), DestroyFn>, "cublasDestroy_v2");
static_assert(std::is_same_v<decltype(&::cublasSetStream_v2), SetStreamFn>, "cublasSetStream_v2");
static_assert(std::is_same_v<decltype(&::cublasSetMathMode), SetMathModeFn>, "cublasSetMathMode");
static_assert(std::is_same_v<decltype(&::cublasGetVersion_v2), GetVersionFn>, "cublasGetVersion_v2");
static_assert(std::is_same_v<decltype(&::cublasSgemm_v2), SgemmFn>, "cublasSgemm_v2");
static_assert(std::is_same_v<decltype(&::cublasSgemmStridedBatched), SgemmStridedBatchedFn>,
              "cublasSgemmStridedBatched");
static_assert(std::is_same_v<decltype(&::cublasGetStatusString), GetStatusStringFn>, "cublasGetStatusString");

// The values our own (header-free) build uses for the enums.
static_assert(int(CUBLAS_STATUS_SUCCESS) == 0, "CUBLAS_STATUS_SUCCESS");
static_assert(int(CUBLAS_OP_N) == 0 && int(CUBLAS_OP_T) == 1, "cublasOperation_t");
static_assert(int(CUBLAS_DEFAULT_MATH) == 0 && int(CUBLAS_PEDANTIC_MATH) == 2 && int(CUBLAS_TF32_TENSOR_OP_MATH) == 3,
              "cublasMath_t");
static_assert(sizeof(cublasOperation_t) == sizeof(int) && sizeof(cublasMath_t) == sizeof(int) &&
                  sizeof(cublasStatus_t) == sizeof(int),
              "cuBLAS enums are int-sized");
static_assert(std::is_same_v<cublasHandle_t, cublasContext*>, "cublasHandle_t");

}  // namespace ck::cuda::blas
