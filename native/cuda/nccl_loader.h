// NCCL opened at run time (dlopen of libnccl.so.2; see library_search.h for the places, here
// with the nvidia-nccl-cu13 / -cu12 wheels' folder nvidia/nccl/lib and $CONVKIT_NCCL first).
// Loading is dlopen and dlsym only, so it needs no GPU. Loaded once per process on first use; a
// failed load is remembered and reported again, as ND_NO_CUDA naming every place searched.
#pragma once
#include <string>

#include "nccl_api.h"

namespace ck::cuda {

struct Nccl {
  std::string path;  // the file that was opened
  int version = 0;   // ncclGetVersion's code (23004 is 2.30.4)
  ncclapi::GetVersionFn getVersion;
  ncclapi::GetUniqueIdFn getUniqueId;
  ncclapi::CommInitAllFn commInitAll;
  ncclapi::CommInitRankFn commInitRank;
  ncclapi::CommDestroyFn commDestroy;
  ncclapi::AllReduceFn allReduce;
  ncclapi::BroadcastFn broadcast;
  ncclapi::GroupStartFn groupStart;
  ncclapi::GroupEndFn groupEnd;
  ncclapi::GetErrorStringFn errorString;
};

// The loaded library, or throws ck::Error(Code::NoCuda) with the search list.
const Nccl& nccl();

// "2.30.4" for a version code.
std::string ncclVersionName(int code);

// Throws ck::Error(Code::Cuda) "<what>: <NCCL's words>" unless r is success.
void ncclCheck(ncclapi::Result r, const char* what);

}  // namespace ck::cuda
