// AVX-512 build of LRN's direct-sum run loops (lrn_blocks.h), for beta = 0.75.
// scale^-0.75 = scale^-1/2 * scale^-1/4, each from the 14-bit reciprocal square root estimate and
// one Newton step (relative error a few 1e-7): the exact form, two square roots and a division
// per element, kept this loop at ~3 cycles per element, bound by the divider.
// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (GCC bug 105593), as in gemm_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include "lrn_blocks.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

namespace ck::cpu::lrnblk {

namespace {

inline __mmask16 tailMask(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }

inline __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

// a^-1/2: the estimate y, then y * (1.5 - 0.5 * a * y^2).
inline __m512 rsqrtRefined(__m512 a) {
  const __m512 y = _mm512_rsqrt14_ps(a);
  const __m512 halfA = _mm512_mul_ps(_mm512_set1_ps(0.5f), a);
  return _mm512_mul_ps(y, _mm512_fnmadd_ps(halfA, _mm512_mul_ps(y, y), _mm512_set1_ps(1.5f)));
}

// s^-3/4 = s^-1/2 * (s * s^-1/2)^-1/2. An infinite s (squares that overflowed float) gives 0, as
// the exact form and PyTorch do, not the estimate's inf * 0 = NaN.
inline __m512 powNeg075(__m512 s) {
  const __m512 y = rsqrtRefined(s);
  const __m512 r = _mm512_mul_ps(y, rsqrtRefined(_mm512_mul_ps(s, y)));
  const __mmask16 inf = _mm512_cmp_ps_mask(s, _mm512_set1_ps(__builtin_inff()), _CMP_EQ_OQ);
  return _mm512_mask_mov_ps(r, inf, _mm512_setzero_ps());
}

// Ring row of channel c (lrn_blocks.h).
inline float* ringRow(float* ws, int64_t stride, int64_t c) { return ws + (c & (kRing - 1)) * stride; }

// The ring rows of channels [from, to], in channel order: found once per channel, not once per
// vector of it (the ring index, a multiply and an add per row and vector, had been recomputed
// inside the window's sum).
struct WindowRows {
  const float* row[kRing];
  int n;
  WindowRows(float* ws, int64_t stride, int64_t from, int64_t to) : n(int(to - from + 1)) {
    for (int i = 0; i < n; i++) row[i] = ringRow(ws, stride, from + i);
  }
};

// Sum of the window's rows at column v, added in channel order (as the portable loop does).
inline __m512 windowSum(const WindowRows& w, int64_t v, __mmask16 m) {
  __m512 s = _mm512_setzero_ps();
  for (int i = 0; i < w.n; i++) s = _mm512_add_ps(s, load(w.row[i] + v, m));
  return s;
}

// The squares x^2 of a run's channels, kept in a ring as a window's leading edge reaches them,
// and the scale k + alphaEff * (window sum) of a channel from them: the forward's and, where no
// scale was kept, the backward's, the same operations in the same order (so the same bits).
struct Squares {
  const float* x;
  const Run& r;
  float* ring;
  int64_t stride, next;  // next: the first channel whose squares are not in the ring yet
  __m512 kv, av;

  Squares(const float* x_, const Run& r_, float* ring_, int64_t stride_, int64_t first, float k, float alphaEff)
      : x(x_),
        r(r_),
        ring(ring_),
        stride(stride_),
        next(first < 0 ? 0 : first),
        kv(_mm512_set1_ps(k)),
        av(_mm512_set1_ps(alphaEff)) {}

  // Squares of every channel up to `to` in the ring.
  void fillTo(int64_t to) {
    for (; next <= to; next++) {
      float* row = ringRow(ring, stride, next);
      for (int64_t v = 0; v < r.len; v += 16) {
        const __mmask16 m = tailMask(r.len - v);
        const __m512 xv = load(x + next * r.hw + v, m);
        // x is read here first, as one long stream: ask for it 4 KB ahead (a prefetch past the
        // end of x does not fault). AlexNet's norm2 forward ran 21% faster with it.
        _mm_prefetch(reinterpret_cast<const char*>(x + next * r.hw + v + 1024), _MM_HINT_T0);
        _mm512_mask_storeu_ps(row + v, m, _mm512_mul_ps(xv, xv));
      }
    }
  }
  int64_t from(int64_t c) const { return c - r.lo < 0 ? 0 : c - r.lo; }
  int64_t to(int64_t c) const { return c + r.hi >= r.C ? r.C - 1 : c + r.hi; }
  // The ring rows of channel c's window (its squares must be in the ring).
  WindowRows window(int64_t c) const { return WindowRows(ring, stride, from(c), to(c)); }
  // The scale at column v of the channel whose window w is.
  __m512 scaleAt(const WindowRows& w, int64_t v, __mmask16 m) const {
    return _mm512_add_ps(kv, _mm512_mul_ps(av, windowSum(w, v, m)));
  }
};

}  // namespace

void forwardAvx512(const float* x, const Run& r, float k, float alphaEff, float* y, float* scale, float* ws) {
  Squares sq(x, r, ws, ringStride(r.len), r.c0 - r.lo, k, alphaEff);
  for (int64_t c = r.c0; c < r.c1; c++) {
    sq.fillTo(sq.to(c));
    const WindowRows w = sq.window(c);
    for (int64_t v = 0; v < r.len; v += 16) {
      const __mmask16 m = tailMask(r.len - v);
      const __m512 s = sq.scaleAt(w, v, m);
      const int64_t o = c * r.hw + v;
      if (scale) _mm512_mask_storeu_ps(scale + o, m, s);
      _mm512_mask_storeu_ps(y + o, m, _mm512_mul_ps(load(x + o, m), powNeg075(s)));
    }
  }
}

void backwardAvx512(const float* dy, const float* x, const float* y, const float* scale, const Run& r, float k,
                    float alphaEff, float coef, bool reluInput, float* dx, float* ws) {
  const int64_t stride = ringStride(r.len), ringFloats = kRing * stride;
  // Rings: the ratios dy * y / scale; without a kept scale also the squares and, per channel,
  // scale^-0.75 of the scale recomputed from them. That path never reads y: this build's forward
  // made y as x * scale^-0.75 from these same operands, so it is made again in registers, the
  // same bits (a forward run on the portable path, whose power is exact, differs in the last
  // bits), and the pass reads three tensors instead of four (it is bound by reading them). With a
  // kept scale ws holds the first ring only, and y and the scale are read.
  float* ratios = ws;
  float* powers = scale ? nullptr : ws + ringFloats;
  Squares sq(x, r, scale ? nullptr : ws + 2 * ringFloats, stride, r.c0 - r.hi - r.lo, k, alphaEff);
  const __m512 cv = _mm512_set1_ps(coef);
  int64_t next = r.c0 - r.hi < 0 ? 0 : r.c0 - r.hi;  // the first channel whose ratios are not in the ring
  for (int64_t j = r.c0; j < r.c1; j++) {
    // Channel j receives from every c whose window holds j: c in [j - hi, j + lo].
    const int64_t from = j - r.hi < 0 ? 0 : j - r.hi, to = j + r.lo >= r.C ? r.C - 1 : j + r.lo;
    for (; next <= to; next++) {
      float* row = ringRow(ratios, stride, next);
      if (!scale) {
        sq.fillTo(sq.to(next));
        float* prow = ringRow(powers, stride, next);
        const WindowRows w = sq.window(next);
        for (int64_t v = 0; v < r.len; v += 16) {
          const __mmask16 m = tailMask(r.len - v);
          const int64_t o = next * r.hw + v;
          const __m512 s = sq.scaleAt(w, v, m), pw = powNeg075(s);
          _mm512_mask_storeu_ps(prow + v, m, pw);
          const __m512 yv = _mm512_mul_ps(load(x + o, m), pw);                      // the forward's y
          _mm_prefetch(reinterpret_cast<const char*>(dy + o + 1024), _MM_HINT_T0);  // dy's first read, as x's
          // Masked-off lanes are 0 / k there, never stored.
          _mm512_mask_storeu_ps(row + v, m, _mm512_div_ps(_mm512_mul_ps(load(dy + o, m), yv), s));
        }
        continue;
      }
      const float* sc = scale + next * r.hw;
      for (int64_t v = 0; v < r.len; v += 16) {
        const __mmask16 m = tailMask(r.len - v);
        const int64_t o = next * r.hw + v;
        // Masked-off lanes load 0 from the scale too: 0/0 there is never stored.
        const __m512 q = _mm512_div_ps(_mm512_mul_ps(load(dy + o, m), load(y + o, m)), load(sc + v, m));
        _mm512_mask_storeu_ps(row + v, m, q);
      }
    }
    const float* pj = scale ? nullptr : ringRow(powers, stride, j);
    const WindowRows w(ratios, stride, from, to);
    for (int64_t v = 0; v < r.len; v += 16) {
      const __mmask16 m = tailMask(r.len - v);
      const int64_t o = j * r.hw + v;
      const __m512 acc = windowSum(w, v, m);
      const __m512 xv = load(x + o, m);
      const __m512 pw = scale ? powNeg075(load(scale + o, m)) : load(pj + v, m);
      const __m512 first = _mm512_mul_ps(load(dy + o, m), pw);
      const __m512 d = _mm512_sub_ps(first, _mm512_mul_ps(_mm512_mul_ps(cv, xv), acc));
      // The ReLU before: 0 where x <= 0 (or NaN), the lanes an ordered x > 0 leaves out.
      const __mmask16 pass = reluInput ? _mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_GT_OQ) : __mmask16(0xFFFF);
      _mm512_mask_storeu_ps(dx + o, m, _mm512_maskz_mov_ps(pass, d));
    }
  }
}

}  // namespace ck::cpu::lrnblk

#pragma GCC pop_options
