// Built only when CMake finds an nccl.h (CONVKIT_NCCL_INCLUDE): proves at compile time that the
// declarations in nccl_api.h match the real ones, so a signature drift in a new NCCL fails the
// build instead of corrupting a call at run time. (No nccl.h on the machine: nothing to check,
// and CMake says so.)
#include <type_traits>

#include "nccl_api.h"

namespace ck::cuda::ncclapi {

static_assert(std::is_same_v<decltype(&::ncclGetVersion), GetVersionFn>, "ncclGetVersion");
static_assert(std::is_same_v<decltype(&::ncclGetUniqueId), GetUniqueIdFn>, "ncclGetUniqueId");
static_assert(std::is_same_v<decltype(&::ncclCommInitAll), CommInitAllFn>, "ncclCommInitAll");
static_assert(std::is_same_v<decltype(&::ncclCommInitRank), CommInitRankFn>, "ncclCommInitRank");
static_assert(std::is_same_v<decltype(&::ncclCommDestroy), CommDestroyFn>, "ncclCommDestroy");
static_assert(std::is_same_v<decltype(&::ncclAllReduce), AllReduceFn>, "ncclAllReduce");
static_assert(std::is_same_v<decltype(&::ncclBroadcast), BroadcastFn>, "ncclBroadcast");
static_assert(std::is_same_v<decltype(&::ncclGroupStart), GroupStartFn>, "ncclGroupStart");
static_assert(std::is_same_v<decltype(&::ncclGroupEnd), GroupEndFn>, "ncclGroupEnd");
static_assert(std::is_same_v<decltype(&::ncclGetErrorString), GetErrorStringFn>, "ncclGetErrorString");

// The values our own (header-free) build uses (only those: older headers lack some others).
static_assert(int(ncclSuccess) == 0 && int(ncclInvalidArgument) == 4 && int(ncclInvalidUsage) == 5, "ncclResult_t");
static_assert(int(ncclFloat32) == 7, "ncclFloat32");
static_assert(int(ncclSum) == 0 && int(ncclAvg) == 4, "ncclRedOp_t");
static_assert(sizeof(ncclUniqueId) == kUniqueIdBytes && NCCL_UNIQUE_ID_BYTES == kUniqueIdBytes, "ncclUniqueId");
static_assert(sizeof(ncclResult_t) == sizeof(int) && sizeof(ncclDataType_t) == sizeof(int) &&
                  sizeof(ncclRedOp_t) == sizeof(int),
              "NCCL enums are int-sized");
static_assert(std::is_same_v<ncclComm_t, ncclComm*>, "ncclComm_t");
static_assert(versionCode(2, 30, 4) == 23004 && NCCL_VERSION(2, 30, 4) == 23004, "NCCL_VERSION");

}  // namespace ck::cuda::ncclapi
