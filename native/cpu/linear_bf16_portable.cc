// Baseline build of the bf16-weight linear loop (linear_bf16_kernels.h): the 16-lane vectors
// lower to four SSE registers each, so two weight rows per tile. The 64-byte vector type only
// lives inside this file (static functions), so GCC's note about its calling convention without
// AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#include <cstdint>

#include "linear_bf16_isa.h"

namespace ck::cpu::bf16 {
namespace {
#define CK_BF16_ROWS 2
#include "linear_bf16_kernels.h"
}  // namespace

RowsFn portableRows() { return rows; }

}  // namespace ck::cpu::bf16
