// cuBLAS opened at run time (dlopen of libcublas.so.13, then .12; see library_search.h for the
// places). Loaded once per process on first use; a failed load is remembered and reported again,
// as ND_NO_CUDA naming every place searched.
#pragma once
#include <string>

#include "cublas_api.h"

namespace ck::cuda {

struct Cublas {
  std::string path;  // the file that was opened
  blas::CreateFn create;
  blas::DestroyFn destroy;
  blas::SetStreamFn setStream;
  blas::SetMathModeFn setMathMode;
  blas::GetVersionFn getVersion;
  blas::SgemmFn sgemm;
  blas::SgemmStridedBatchedFn sgemmStridedBatched;
  blas::GetStatusStringFn statusString;  // may be null (older libraries)
};

// The loaded library, or throws ck::Error(Code::NoCuda) with the search list.
const Cublas& cublas();

// "CUBLAS_STATUS_..." or the number, for messages.
std::string cublasStatusName(blas::Status s);

}  // namespace ck::cuda
