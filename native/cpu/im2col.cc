// im2col / col2im, with an AVX-512 path: AlexNet's column rows are 13 to 55 floats long, so
// per-row loop overhead, not bandwidth, bounds a scalar copy; one masked 16-lane load and store
// (or gather) per 16 outputs handles a row's padding and its stride in the same instruction.
// Both paths move the same values and add in the same order: results are bit-identical.
#include "im2col.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "../core/thread_pool.h"
#include "isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CK_HAVE_AVX512_PATH 1
#define CK_AVX512 __attribute__((target("avx512f")))
#endif

namespace ck::cpu {

namespace {

// Elements below which a parallel loop is not worth waking the pool.
constexpr int64_t kGrainElements = 1 << 14;

// Output columns [lo, hi) whose input position o*S + off lies inside [0, extent).
struct Span {
  int64_t lo, hi;
};
inline Span insideSpan(int64_t outExtent, int64_t extent, int64_t S, int64_t off) {
  int64_t lo = off >= 0 ? 0 : (-off + S - 1) / S;
  int64_t hi = off >= extent ? 0 : (extent - off + S - 1) / S;
  hi = std::min(hi, outExtent);
  return {std::min(lo, hi), hi};
}

// One column row (kernel tap kh, kw of one channel plane) for all OH*OW output positions.
void copyTapRow(const float* plane, const Conv2dGeom& g, int64_t kh, int64_t kw, float* __restrict dst) {
  const int64_t offH = kh * g.DH - g.PH, offW = kw * g.DW - g.PW, OW = g.OW, SW = g.SW;
  const Span cols = insideSpan(OW, g.W, SW, offW);
  for (int64_t oh = 0; oh < g.OH; oh++) {
    float* __restrict d = dst + oh * OW;
    const int64_t ih = oh * g.SH + offH;
    if (ih < 0 || ih >= g.H) {
      for (int64_t ow = 0; ow < OW; ow++) d[ow] = 0.0f;
      continue;
    }
    const float* __restrict src = plane + ih * g.W;
    for (int64_t ow = 0; ow < cols.lo; ow++) d[ow] = 0.0f;
    if (SW == 1) {
      for (int64_t ow = cols.lo; ow < cols.hi; ow++) d[ow] = src[ow + offW];
    } else {
      for (int64_t ow = cols.lo; ow < cols.hi; ow++) d[ow] = src[ow * SW + offW];
    }
    for (int64_t ow = cols.hi; ow < OW; ow++) d[ow] = 0.0f;
  }
}

// The adjoint of copyTapRow: adds the row back into the plane.
void addTapRow(const float* __restrict src, const Conv2dGeom& g, int64_t kh, int64_t kw, float* __restrict plane) {
  const int64_t offH = kh * g.DH - g.PH, offW = kw * g.DW - g.PW, OW = g.OW, SW = g.SW;
  const Span cols = insideSpan(OW, g.W, SW, offW);
  const Span rows = insideSpan(g.OH, g.H, g.SH, offH);
  for (int64_t oh = rows.lo; oh < rows.hi; oh++) {
    const float* __restrict s = src + oh * OW;
    float* __restrict d = plane + (oh * g.SH + offH) * g.W;
    if (SW == 1) {
      for (int64_t ow = cols.lo; ow < cols.hi; ow++) d[ow + offW] += s[ow];
    } else {
      for (int64_t ow = cols.lo; ow < cols.hi; ow++) d[ow * SW + offW] += s[ow];
    }
  }
}

// All taps of channel c of one image, added into its plane in a fixed order (kh, then kw).
void addPlane(const float* cols, int64_t rowStride, const Conv2dGeom& g, int64_t c, float* plane) {
  for (int64_t kh = 0; kh < g.KH; kh++)
    for (int64_t kw = 0; kw < g.KW; kw++) addTapRow(cols + ((c * g.KH + kh) * g.KW + kw) * rowStride, g, kh, kw, plane);
}

#ifdef CK_HAVE_AVX512_PATH
// Lanes [lo, hi) of a 16-lane vector, clipped to [0, 16).
inline __mmask16 laneMask(int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0);
  hi = std::min<int64_t>(hi, 16);
  if (hi <= lo) return 0;
  return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Masked-off lanes of a masked load or gather never touch memory, so the lanes that fall in the
// padding read nothing and come back as 0.
CK_AVX512 void copyTapRowAvx512(const float* plane, const Conv2dGeom& g, int64_t kh, int64_t kw, float* dst) {
  const int64_t offH = kh * g.DH - g.PH, offW = kw * g.DW - g.PW, OW = g.OW, SW = g.SW;
  const Span cols = insideSpan(OW, g.W, SW, offW);
  const __m512i lanes = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(int(SW)));
  for (int64_t oh = 0; oh < g.OH; oh++) {
    float* d = dst + oh * OW;
    const int64_t ih = oh * g.SH + offH;
    const bool inside = ih >= 0 && ih < g.H;
    const float* src = plane + (inside ? ih : 0) * g.W;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const __mmask16 store = laneMask(0, OW - ow);
      const __mmask16 load = inside ? laneMask(cols.lo - ow, cols.hi - ow) : 0;
      __m512 v = _mm512_setzero_ps();
      if (load) {
        const float* base = src + ow * SW + offW;  // may point before the row; only loaded lanes count
        v = SW == 1 ? _mm512_maskz_loadu_ps(load, base) : _mm512_mask_i32gather_ps(v, load, lanes, base, 4);
      }
      _mm512_mask_storeu_ps(d + ow, store, v);
    }
  }
}

// Flat col2im for stride-1 convolutions whose output rows are as wide as the input's (OW == W,
// "same" padding along W, as in AlexNet conv2-5). Tap t's column row is then the plane shifted
// by shift[t] = offH*W + offW, so each 16-float segment of the plane is loaded once, receives
// every tap with one masked load-add (lanes that tap does not reach are masked off), and is
// stored once. Segments never overlap, so no store has to be forwarded to a later load, which
// is what makes a row-by-row masked version slower than the scalar loop. Per element the taps
// are added in the portable order (kh, then kw), so the sums are bit-identical.
struct FlatPlan {
  std::vector<uint16_t> masks;  // [segment][tap]
  std::vector<int64_t> shifts;  // [tap]
};

constexpr int64_t kMaxFlatMasks = 1 << 16;

bool flatFits(const Conv2dGeom& g) {
  return g.SH == 1 && g.SW == 1 && g.OW == g.W && (g.HW() + 15) / 16 * g.KHW() <= kMaxFlatMasks;
}

FlatPlan flatPlan(const Conv2dGeom& g) {
  const int64_t T = g.KHW(), S = (g.HW() + 15) / 16;
  FlatPlan plan{std::vector<uint16_t>(size_t(S * T), 0), std::vector<int64_t>(size_t(T))};
  for (int64_t kh = 0, t = 0; kh < g.KH; kh++)
    for (int64_t kw = 0; kw < g.KW; kw++, t++) {
      const int64_t offH = kh * g.DH - g.PH, offW = kw * g.DW - g.PW;
      plan.shifts[size_t(t)] = offH * g.W + offW;
      // Pixel (ih, iw) receives this tap from output (ih - offH, iw - offW) when that exists.
      const Span rows = insideSpan(g.OH, g.H, 1, offH), cols = insideSpan(g.OW, g.W, 1, offW);
      for (int64_t oh = rows.lo; oh < rows.hi; oh++)
        for (int64_t p = (oh + offH) * g.W + cols.lo + offW, end = p + cols.hi - cols.lo; p < end; p++)
          plan.masks[size_t((p >> 4) * T + t)] |= uint16_t(1u << (p & 15));
    }
  return plan;
}

CK_AVX512 void addPlaneFlatAvx512(const float* cols, int64_t rowStride, const Conv2dGeom& g, int64_t c, float* plane,
                                  const FlatPlan& plan, const float* reluOut) {
  const int64_t HW = g.HW(), T = g.KHW();
  const float* taps = cols + c * T * rowStride;
  const uint16_t* masks = plan.masks.data();
  const int64_t* shifts = plan.shifts.data();
  for (int64_t p0 = 0; p0 < HW; p0 += 16, masks += T) {
    const __mmask16 m = laneMask(0, HW - p0);
    __m512 acc = _mm512_maskz_loadu_ps(m, plane + p0);
    for (int64_t t = 0; t < T; t++)
      if (masks[t]) {
        // Lanes this tap does not reach keep acc as is (adding a masked-off 0 would turn -0 into +0).
        const __m512 v = _mm512_maskz_loadu_ps(masks[t], taps + t * rowStride + p0 - shifts[t]);
        acc = _mm512_mask_add_ps(acc, masks[t], acc, v);
      }
    // The ReLU before: 0 where its output is not > 0 (reluBackward's y > 0 ? dy : 0).
    if (reluOut)
      acc = _mm512_maskz_mov_ps(
          _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, reluOut + p0), _mm512_setzero_ps(), _CMP_GT_OQ), acc);
    _mm512_mask_storeu_ps(plane + p0, m, acc);
  }
}
#endif

using RowFn = void (*)(const float*, const Conv2dGeom&, int64_t, int64_t, float*);

struct Path {
  const char* name;
  RowFn copy;
};

const Path kPortable{"portable", copyTapRow};
#ifdef CK_HAVE_AVX512_PATH
const Path kAvx512{"avx512", copyTapRowAvx512};
#endif

// The active ISA level (isa.h) picks the path, once per call.
const Path& path() {
#ifdef CK_HAVE_AVX512_PATH
  if (activeAvx512()) return kAvx512;
#endif
  return kPortable;
}

}  // namespace

const char* im2colPathName() { return path().name; }

void im2colBlock(const float* x, const Conv2dGeom& g, const ColumnBlock& b, float* cols) {
  const RowFn copy = path().copy;
  const int64_t khw = g.KHW(), rows = b.channels * khw;
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, g.OHW()));
  // One task per (image, row): rows are independent copies.
  parallelRange(b.images * rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t i = t / rows, r = t % rows;
      const int64_t c = r / khw, kh = (r % khw) / g.KW, kw = r % g.KW;
      const float* plane = x + ((b.n0 + i) * g.C + b.c0 + c) * g.HW();
      copy(plane, g, kh, kw, cols + r * b.rowStride + i * b.imageStride);
    }
  });
}

void col2imBlock(const float* cols, const Conv2dGeom& g, const ColumnBlock& b, float* x, const float* reluOut) {
  const int64_t khw = g.KHW();
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, khw * g.OHW()));
  // One task per (image, channel): every tap of a channel adds into the same plane, so a plane
  // belongs to one task, and its taps are summed in a fixed order (kh, then kw).
#ifdef CK_HAVE_AVX512_PATH
  if (&path() == &kAvx512 && flatFits(g)) {
    const FlatPlan plan = flatPlan(g);
    parallelRange(b.images * b.channels, grain, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; t++) {
        const int64_t i = t / b.channels, c = t % b.channels;
        const int64_t at = ((b.n0 + i) * g.C + b.c0 + c) * g.HW();
        addPlaneFlatAvx512(cols + i * b.imageStride, b.rowStride, g, c, x + at, plan, reluOut ? reluOut + at : nullptr);
      }
    });
    return;
  }
#endif
  parallelRange(b.images * b.channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t i = t / b.channels, c = t % b.channels;
      const int64_t at = ((b.n0 + i) * g.C + b.c0 + c) * g.HW();
      addPlane(cols + i * b.imageStride, b.rowStride, g, c, x + at);
      if (reluOut)
        for (int64_t p = 0; p < g.HW(); p++)
          if (!(reluOut[at + p] > 0.0f)) x[at + p] = 0.0f;
    }
  });
}

void im2col(const float* x, const Conv2dGeom& g, float* cols) {
  const ColumnBlock b{0, g.N, 0, g.C, g.OHW(), g.C * g.KHW() * g.OHW()};
  im2colBlock(x, g, b, cols);
}

void col2im(const float* cols, const Conv2dGeom& g, float* x) {
  const ColumnBlock b{0, g.N, 0, g.C, g.OHW(), g.C * g.KHW() * g.OHW()};
  col2imBlock(cols, g, b, x);
}

}  // namespace ck::cpu
