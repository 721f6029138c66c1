#include "linear_bf16.h"

#include <algorithm>
#include <cstring>

#include "../core/thread_pool.h"
#include "isa.h"
#include "linear_bf16_isa.h"

namespace ck::cpu {

void packBf16(const float* w, int32_t* packed, int64_t out, int64_t in) {
  const int64_t pairs = bf16InPairs(in);
  if (out == 0 || pairs == 0) return;
  parallelRange(out, std::max<int64_t>(1, (int64_t(1) << 16) / pairs), [=](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; o++) {
      const float* src = w + o * in;
      uint32_t* dst = reinterpret_cast<uint32_t*>(packed + o * pairs);
      for (int64_t j = 0; j < pairs; j++) {
        uint32_t a, b = 0;
        std::memcpy(&a, src + 2 * j, 4);
        if (2 * j + 1 < in) std::memcpy(&b, src + 2 * j + 1, 4);
        const uint32_t hi16 = 2 * j + 1 < in ? uint32_t(bf16FromFloat(b)) << 16 : 0u;
        dst[j] = uint32_t(bf16FromFloat(a)) | hi16;
      }
    }
  });
}

void linearBf16Forward(const float* x, const int32_t* packed, const float* b, float* y, int64_t N, int64_t in,
                       int64_t out) {
  if (N == 0 || out == 0) return;
  const bf16::RowsFn rows = activeAvx512() ? bf16::avx512Rows() : bf16::portableRows();
  const uint16_t* w = reinterpret_cast<const uint16_t*>(packed);
  const int64_t ldw = 2 * bf16InPairs(in);
  // Output rows are split across the pool (each row's sums are the same whichever thread takes
  // it), in multiples of 8 so tiles stay whole, and a piece is at least ~256k multiply-adds.
  const int64_t grain = std::max<int64_t>(8, ((int64_t(1) << 18) / std::max<int64_t>(1, in * N) + 7) / 8 * 8);
  parallelRange(out, grain, [=](int64_t o0, int64_t o1) {
    rows(x, N, w + o0 * ldw, ldw, b ? b + o0 : nullptr, o1 - o0, in, y + o0, out);
  });
}

const char* linearBf16PathName() { return activeAvx512() ? "avx512" : "portable"; }

}  // namespace ck::cpu
