#include "im2col.h"

#include <algorithm>

#include "../core/thread_pool.h"

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

// One column row (one kernel tap kh, kw of one channel plane) for all OH*OW output positions.
// Rows are short (13 to 55 floats in AlexNet), so plain loops beat memcpy/memset calls.
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

}  // namespace

void im2colBlock(const float* x, const Conv2dGeom& g, const ColumnBlock& b, float* cols) {
  const int64_t khw = g.KHW(), rows = b.channels * khw;
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, g.OHW()));
  // One task per (image, row): rows are independent copies.
  parallelRange(b.images * rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t i = t / rows, r = t % rows;
      const int64_t c = r / khw, kh = (r % khw) / g.KW, kw = r % g.KW;
      const float* plane = x + ((b.n0 + i) * g.C + b.c0 + c) * g.HW();
      copyTapRow(plane, g, kh, kw, cols + r * b.rowStride + i * b.imageStride);
    }
  });
}

void col2imBlock(const float* cols, const Conv2dGeom& g, const ColumnBlock& b, float* x) {
  const int64_t khw = g.KHW();
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, khw * g.OHW()));
  // One task per (image, channel): every tap of a channel adds into the same plane, so a plane
  // belongs to one task, and its taps are summed in a fixed order (kh, then kw).
  parallelRange(b.images * b.channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t i = t / b.channels, c = t % b.channels;
      float* plane = x + ((b.n0 + i) * g.C + b.c0 + c) * g.HW();
      for (int64_t kh = 0; kh < g.KH; kh++)
        for (int64_t kw = 0; kw < g.KW; kw++) {
          const int64_t r = (c * g.KH + kh) * g.KW + kw;
          addTapRow(cols + r * b.rowStride + i * b.imageStride, g, kh, kw, plane);
        }
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
