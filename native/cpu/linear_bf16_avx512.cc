// AVX-512 build of the bf16-weight linear loop (linear_bf16_kernels.h): eight weight rows per
// tile at batch 1 and 2 (more loads in flight for a loop bound by memory), four at 3 and 4.
// AVX-512F is enough: the weights are widened to fp32, not multiplied as bf16, so AVX512_BF16 is
// not needed. Reached only when the active level is avx512 (linear_bf16.cc).
// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (_mm512_undefined_* inside the
// intrinsics, GCC bug 105593, fixed in 13), as in gemm_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "linear_bf16_isa.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#pragma GCC optimize("fp-contract=fast")

namespace ck::cpu::bf16 {
namespace {
#define CK_BF16_ROWS 8
// One vpmovzxwd from memory and one vpslld per 16 weights.
#define CK_BF16_LOAD(p) \
  ((vf)_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(p))), 16)))
#include "linear_bf16_kernels.h"
}  // namespace

RowsFn avx512Rows() { return rows; }

}  // namespace ck::cpu::bf16

#pragma GCC pop_options
