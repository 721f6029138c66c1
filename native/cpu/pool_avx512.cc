#include "pool_avx512.h"

#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")

namespace ck::cpu::poolavx {

namespace {

// One step of PyTorch's max rule on 16 lanes: take v where v > best or v is NaN.
inline void step(__m512 v, __m512i at, __m512& best, __m512i& arg) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, take, v);
  arg = _mm512_mask_mov_epi32(arg, take, at);
}

// The values-only step: the same rule, no position kept.
inline __m512 stepValue(__m512 v, __m512 best) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(best, take, v);
}

}  // namespace

void maxTiled2x2Values(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i evens = _mm512_add_epi32(lane, lane), odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int64_t p = p0; p < p1; p++) {
    const float* xp = x + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const float* r0 = xp + 2 * oh * g.W;
      const float* r1 = r0 + g.W;
      float* yr = y + (p * g.OH + oh) * g.OW;
      for (int64_t ow = 0; ow < g.OW; ow += 16) {
        // 16 outputs read 32 inputs of each row; a short tail (LeNet's rows are 14 outputs)
        // loads only its own floats, with masked loads rather than gathers.
        const int64_t n = g.OW - ow < 16 ? g.OW - ow : 16, m = 2 * n;
        const __mmask16 lo = m >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << m) - 1);
        const __mmask16 hi = m >= 32 ? __mmask16(0xFFFF) : m > 16 ? __mmask16((1u << (m - 16)) - 1) : __mmask16(0);
        const int64_t c = 2 * ow;
        const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + c), b0 = _mm512_maskz_loadu_ps(hi, r0 + c + 16);
        const __m512 a1 = _mm512_maskz_loadu_ps(lo, r1 + c), b1 = _mm512_maskz_loadu_ps(hi, r1 + c + 16);
        // The window in row-major order, as maxPool2dForward's argmax loops scan it.
        __m512 best = _mm512_permutex2var_ps(a0, evens, b0);
        best = stepValue(_mm512_permutex2var_ps(a0, odds, b0), best);
        best = stepValue(_mm512_permutex2var_ps(a1, evens, b1), best);
        best = stepValue(_mm512_permutex2var_ps(a1, odds, b1), best);
        _mm512_mask_storeu_ps(yr + ow, n == 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1), best);
      }
    }
  }
}

namespace {

// Lanes [0, n) of a mask, n clamped to [0, 16].
inline __mmask16 firstLanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// The lane constants both scans use: a tap's column offsets (lane * stride) and, at stride 2,
// the even lanes of two consecutive vectors (indices 0, 2, ..., 30 of the pair).
struct Lanes {
  __m512i cols, evens;
  explicit Lanes(int64_t S) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    cols = _mm512_mullo_epi32(lane, _mm512_set1_epi32(int32_t(S)));
    evens = _mm512_mullo_epi32(lane, _mm512_set1_epi32(2));
  }
  // The positions of one tap's 16 windows, off being the first window's.
  __m512i at(int64_t off) const { return _mm512_add_epi32(cols, _mm512_set1_epi32(int32_t(off))); }
};

// One tap of 16 windows at stride S (1 or 2), from one or two loads masked to the avail floats
// left in the row: a window inside the input never needs one past it.
inline __m512 loadTap(const float* p, int64_t avail, int64_t S, const Lanes& l) {
  if (S == 1) return _mm512_maskz_loadu_ps(firstLanes(avail), p);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(firstLanes(avail), p), l.evens,
                                _mm512_maskz_loadu_ps(firstLanes(avail - 16), p + 16));
}

// One element of the scan into best (and arg): the first starts it (the same as starting from
// -inf), each later one takes over under the max rule (step, stepValue).
template <bool keepArg>
inline void scan(bool first, __m512 v, __m512i at, __m512& best, __m512i& arg) {
  if (first) {
    best = v;
    if (keepArg) arg = at;
  } else if (keepArg) {
    step(v, at, best, arg);
  } else {
    best = stepValue(v, best);
  }
}

// maxInside with (keepArg) or without the positions. At strides 1 and 2 every tap's 16 lanes come
// from one or two loads masked to the floats left in the row (a window inside the input never
// needs one past it), so a short vector at a row's end (AlexNet's 27-wide rows end in 11 outputs,
// its 13-wide ones are all short) costs no more than a whole one; gathers, one element after
// another, had made the fused LRN + pool of inference spend more time pooling than normalizing.
template <bool keepArg>
void maxInsideRows(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y, int32_t* argmax) {
  const int64_t S = g.SW;
  const Lanes lanes(S);
  const bool loads = S == 1 || S == 2;
  for (int64_t p = p0; p < p1; p++) {
    const float* xp = x + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const int64_t h0 = oh * g.SH, o = (p * g.OH + oh) * g.OW;
      for (int64_t ow = 0; ow < g.OW; ow += 16) {
        const __mmask16 live = firstLanes(g.OW - ow);
        const int64_t c0 = ow * S;
        __m512 best = _mm512_setzero_ps();
        __m512i arg = _mm512_setzero_si512();
        for (int64_t kh = 0; kh < g.KH; kh++)
          for (int64_t kw = 0; kw < g.KW; kw++) {
            const int64_t off = (h0 + kh) * g.W + c0 + kw;
            const __m512 v = loads ? loadTap(xp + off, g.W - (c0 + kw), S, lanes)
                                   : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, lanes.at(off), xp, 4);
            scan<keepArg>(kh == 0 && kw == 0, v, lanes.at(off), best, arg);
          }
        _mm512_mask_storeu_ps(y + o + ow, live, best);
        if (keepArg) _mm512_mask_storeu_epi32(argmax + o + ow, live, arg);
      }
    }
  }
}

// Most rows a separable window may span (its ring of row maxima below).
constexpr int64_t kMaxSeparableRows = 16;

// Strides 1 and 2 across, windows that overlap down the plane (SH < KH: AlexNet's 3x3 / 2):
// each input row's maximum over the KW taps (and its position, with keepArg) is taken once, kept
// in a ring, and shared by the KH / SH output rows whose windows hold it, where the row-major
// scan took every tap of every window again (9 taps an output for 3x3 / 2, here 3 per input row
// and 2 of those rows an output row). The same rule, row by row then down the rows, picks the
// same element: the last NaN when there is one (a NaN takes over from anything, NaN included),
// else the first maximum in row-major order (a later element only takes over when strictly
// greater, so ties keep the earlier row, and within a row the earlier column).
template <bool keepArg>
void maxInsideSeparable(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y, int32_t* argmax) {
  const int64_t S = g.SW;
  const Lanes lanes(S);
  __m512 ring[kMaxSeparableRows];
  __m512i ringArg[kMaxSeparableRows];  // written and read only with keepArg
  for (int64_t p = p0; p < p1; p++) {
    const float* xp = x + p * g.H * g.W;
    for (int64_t ow = 0; ow < g.OW; ow += 16) {
      const __mmask16 live = firstLanes(g.OW - ow);
      const int64_t c0 = ow * S;
      // The maximum over one input row's taps of these 16 windows, into its ring slot.
      auto rowMax = [&](int64_t h) {
        __m512 best = _mm512_setzero_ps();
        __m512i arg = _mm512_setzero_si512();
        for (int64_t kw = 0; kw < g.KW; kw++) {
          const int64_t off = h * g.W + c0 + kw;
          scan<keepArg>(kw == 0, loadTap(xp + off, g.W - (c0 + kw), S, lanes), lanes.at(off), best, arg);
        }
        ring[h % kMaxSeparableRows] = best;  // in registers until here, one store a row
        if (keepArg) ringArg[h % kMaxSeparableRows] = arg;
      };
      int64_t ready = 0;  // rows [0, ready) have their maxima in the ring (the last KH of them)
      for (int64_t oh = 0; oh < g.OH; oh++) {
        const int64_t h0 = oh * g.SH, o = (p * g.OH + oh) * g.OW + ow;
        for (; ready < h0 + g.KH; ready++) rowMax(ready);
        __m512 best = _mm512_setzero_ps();
        __m512i arg = _mm512_setzero_si512();
        for (int64_t kh = 0; kh < g.KH; kh++) {
          const int64_t slot = (h0 + kh) % kMaxSeparableRows;
          scan<keepArg>(kh == 0, ring[slot], keepArg ? ringArg[slot] : arg, best, arg);
        }
        _mm512_mask_storeu_ps(y + o, live, best);
        if (keepArg) _mm512_mask_storeu_epi32(argmax + o, live, arg);
      }
    }
  }
}

}  // namespace

void maxInside(const float* x, const Pool2dGeom& g, int64_t p0, int64_t p1, float* y, int32_t* argmax) {
  const bool separable = (g.SW == 1 || g.SW == 2) && g.SH < g.KH && g.KH <= kMaxSeparableRows;
  if (separable && argmax) return maxInsideSeparable<true>(x, g, p0, p1, y, argmax);
  if (separable) return maxInsideSeparable<false>(x, g, p0, p1, y, nullptr);
  if (argmax) return maxInsideRows<true>(x, g, p0, p1, y, argmax);
  maxInsideRows<false>(x, g, p0, p1, y, nullptr);
}

}  // namespace ck::cpu::poolavx

#pragma GCC pop_options
