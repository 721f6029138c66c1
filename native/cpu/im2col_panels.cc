// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (GCC bug 105593), as in gemm_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "im2col_panels.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <type_traits>
#include <vector>

#include "isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CK_HAVE_AVX512_PATH 1
#define CK_AVX512 __attribute__((target("avx512f")))
#endif

namespace ck::cpu {

namespace {

std::atomic<bool> gPacked{true};

// Where each column's window starts: row ih0 and column iw0 of its image (negative in the
// padding), and the offset of that corner from the block's first image, channel 0.
struct ColumnTable {
  int32_t* ih0;
  int32_t* iw0;
  int32_t* corner;  // image offset + ih0 * W + iw0 (used only where the tap lands inside)
};

// Column n0 + j is image i, output row oh, column ow: walked forward from n0, no division per column.
void fillTable(const Conv2dGeom& g, int64_t n0, int64_t cols, ColumnTable t) {
  const int64_t OHW = g.OHW(), imageFloats = g.C * g.HW();
  int64_t i = n0 / OHW, oh = n0 % OHW / g.OW, ow = n0 % g.OW;
  for (int64_t j = 0; j < cols; j++) {
    const int64_t ih = oh * g.SH - g.PH, iw = ow * g.SW - g.PW;
    t.ih0[j] = int32_t(ih);
    t.iw0[j] = int32_t(iw);
    t.corner[j] = int32_t(i * imageFloats + ih * g.W + iw);
    if (++ow == g.OW) {
      ow = 0;
      if (++oh == g.OH) oh = 0, i++;
    }
  }
}

// The GEMM asks for the same columns (or, transposed, the same taps) once per k block of a slab,
// 3 to 8 times at AlexNet's shapes, and their tables depend only on the geometry and the columns:
// each thread keeps the last ones it made (they were 3% of conv1's filter gradient, recomputed).
static_assert(std::has_unique_object_representations_v<Conv2dGeom>, "compared with memcmp");
bool sameGeom(const Conv2dGeom& a, const Conv2dGeom& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// What a thread's kept tables were made for: the geometry and the columns (or taps) asked for.
struct TableKey {
  Conv2dGeom g{};
  int64_t n0 = -1, cols = -1;
  // True when the tables are for these; otherwise records them, and the caller remakes the tables.
  bool holds(const Conv2dGeom& geom, int64_t first, int64_t count) {
    if (n0 == first && cols == count && sameGeom(g, geom)) return true;
    g = geom, n0 = first, cols = count;
    return false;
  }
};

// A group of 16 columns whose window corners form at most kMaxRuns runs of addresses `step`
// apart (consecutive output columns of one row: step is the column stride) is read with masked
// vector loads instead of a gather; lane l of run r reads base[start[r] + step * l]. Steps 1, 2
// and 4 have such loads (AlexNet's conv1 has stride 4: a gather per 16 values was most of its
// packing time); any other step gathers.
constexpr int kMaxRuns = 3;
struct GroupRuns {
  int32_t start[kMaxRuns];
  uint16_t lanes[kMaxRuns];
  int8_t count;  // 0: not runs, gather
};

bool hasRunLoads(int64_t step) { return step == 1 || step == 2 || step == 4; }

void fillRuns(const ColumnTable& t, int64_t cols, int32_t step, GroupRuns* runs) {
  for (int64_t j0 = 0; j0 < cols; j0 += 16) {
    GroupRuns& gr = runs[j0 / 16];
    gr.count = 0;
    if (!hasRunLoads(step)) continue;
    const int64_t n = cols - j0 < 16 ? cols - j0 : 16;
    for (int64_t l = 0; l < n; l++) {
      const bool extends = l > 0 && t.corner[j0 + l] == t.corner[j0 + l - 1] + step;
      if (!extends) {
        if (gr.count == kMaxRuns) {
          gr.count = 0;
          break;
        }
        gr.start[gr.count] = t.corner[j0 + l] - step * int32_t(l);
        gr.lanes[gr.count] = 0;
        gr.count++;
      }
      gr.lanes[gr.count - 1] |= uint16_t(1u << l);
    }
  }
}

void packScalar(const float* base, const Conv2dGeom& g, int64_t c0, int64_t k0, int64_t kc, int64_t cols, int nr,
                float* dst, int64_t stride, const ColumnTable& t) {
  const int64_t KHW = g.KHW(), padded = (cols + nr - 1) / nr * nr;
  for (int64_t r = k0; r < k0 + kc; r++) {
    const int64_t c = c0 + r / KHW, kh = (r % KHW) / g.KW, kw = r % g.KW;
    const int64_t dh = kh * g.DH, dw = kw * g.DW, shift = c * g.HW() + dh * g.W + dw;
    float* row = dst + (r - k0) * nr;
    // Panel by panel (no division per element: nr is a run-time value).
    for (int64_t pi = 0, j = 0; j < padded; pi++)
      for (int64_t q = 0; q < nr; q++, j++) {
        float v = 0.0f;
        if (j < cols) {
          const uint32_t ih = uint32_t(t.ih0[j] + dh), iw = uint32_t(t.iw0[j] + dw);
          if (ih < uint32_t(g.H) && iw < uint32_t(g.W)) v = base[t.corner[j] + shift];
        }
        row[pi * stride + q] = v;
      }
  }
}

#ifdef CK_HAVE_AVX512_PATH
// The active ISA level (isa.h), read once per packing call.
bool cpuHasAvx512() { return activeAvx512(); }

// Sixteen values of one panel row, for columns j..j+15 of the `cols` being packed: lane l reads
// base[idx[j+l]] where row rowAdd + rows[j+l] and column colAdd + cols_[j+l] land inside the
// image, else 0 (the padding), and 0 past `cols`. Both packers call it: the forward with the
// tap fixed (rowAdd/colAdd its offsets, the tables per position), the transposed one with the
// position fixed (rowAdd/colAdd its window corner, the tables per tap).
CK_AVX512 inline void gatherGroup(float* out, int64_t j, int64_t cols, __m512i rowAdd, __m512i colAdd,
                                  const int32_t* rows, const int32_t* colsOf, const int32_t* idx, const float* base,
                                  const Conv2dGeom& g) {
  if (j >= cols) {
    _mm512_storeu_ps(out, _mm512_setzero_ps());
    return;
  }
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __mmask16 live =
      _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane, _mm512_set1_epi32(int32_t(j))), _mm512_set1_epi32(int32_t(cols)));
  const __m512i ih = _mm512_add_epi32(rowAdd, _mm512_maskz_loadu_epi32(live, rows + j));
  const __m512i iw = _mm512_add_epi32(colAdd, _mm512_maskz_loadu_epi32(live, colsOf + j));
  // Unsigned compares: a negative row or column (the padding) is out of range too.
  const __mmask16 inside = live & _mm512_cmplt_epu32_mask(ih, _mm512_set1_epi32(int32_t(g.H))) &
                           _mm512_cmplt_epu32_mask(iw, _mm512_set1_epi32(int32_t(g.W)));
  const __m512i at = _mm512_maskz_loadu_epi32(live, idx + j);
  _mm512_storeu_ps(out, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, at, base, 4));
}

// Element masks of the vectors a strided run loads: lane l of a step-S run is element S*l of
// the run's span, so each lane bit moves to bit S*l (within its vector of 16 elements).
struct SpreadTables {
  uint16_t by2[256];  // 8 lanes -> even elements
  uint16_t by4[16];   // 4 lanes -> every fourth element
  constexpr SpreadTables() : by2(), by4() {
    for (int m = 0; m < 256; m++)
      for (int b = 0; b < 8; b++)
        if (m >> b & 1) by2[m] = uint16_t(by2[m] | (1u << (2 * b)));
    for (int m = 0; m < 16; m++)
      for (int b = 0; b < 4; b++)
        if (m >> b & 1) by4[m] = uint16_t(by4[m] | (1u << (4 * b)));
  }
};
constexpr SpreadTables kSpread;

// Lane l = p[step * l] for the lanes in `lanes`, 0 elsewhere; reads only those elements (masked
// loads do not touch, nor fault on, the elements they leave out).
CK_AVX512 inline __m512 loadRun(const float* p, int32_t step, __mmask16 lanes) {
  if (step == 1) return _mm512_maskz_loadu_ps(lanes, p);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  if (step == 2) {
    const __m512 v0 = _mm512_maskz_loadu_ps(kSpread.by2[lanes & 0xFF], p);
    const __m512 v1 = _mm512_maskz_loadu_ps(kSpread.by2[lanes >> 8], p + 16);
    return _mm512_permutex2var_ps(v0, _mm512_add_epi32(lane, lane), v1);
  }
  // step 4: four vectors of four lanes each; lanes 0-7 from the first pair, 8-15 from the second.
  const __m512 v0 = _mm512_maskz_loadu_ps(kSpread.by4[lanes & 15], p);
  const __m512 v1 = _mm512_maskz_loadu_ps(kSpread.by4[(lanes >> 4) & 15], p + 16);
  const __m512 v2 = _mm512_maskz_loadu_ps(kSpread.by4[(lanes >> 8) & 15], p + 32);
  const __m512 v3 = _mm512_maskz_loadu_ps(kSpread.by4[lanes >> 12], p + 48);
  // Lanes 0-3 take elements 0, 4, 8, 12 of a; lanes 4-7 the same of b (index 16 + ...).
  const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  const __m512 lo = _mm512_permutex2var_ps(v0, pick, v1), hi = _mm512_permutex2var_ps(v2, pick, v3);
  return _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
}

// Column stride 4 without column padding (AlexNet's conv1: 11x11 taps, stride 4): the KW taps of
// one (channel, kernel row) read one input span per run, lane l of tap kw at 4l + kw. The span is
// loaded once (5 vectors for taps up to 20 wide), split into its four phases (element 4m + b),
// and tap kw = 4a + b is phase b moved down a lanes. Tap by tap (packAvx512's general path), the
// four loads, three shuffles and the scalar mask lookups of every tap took 22% of conv1's forward.
constexpr int64_t kStride4MaxTaps = 20;

bool stride4TapsApply(const Conv2dGeom& g) { return g.SW == 4 && g.DW == 1 && g.PW == 0 && g.KW <= kStride4MaxTaps; }

// Bits [lo, hi] of a 16-bit vector mask holding elements 16t .. 16t+15 (none when empty).
inline __mmask16 spanMask(int64_t lo, int64_t hi, int64_t t) {
  const int64_t a = std::max<int64_t>(lo - 16 * t, 0), b = std::min<int64_t>(hi - 16 * t, 15);
  if (a > b) return 0;
  return __mmask16(((2u << b) - 1) & ~((1u << a) - 1));
}

CK_AVX512 void packStride4Taps(const float* base, const Conv2dGeom& g, int64_t c0, int64_t k0, int64_t kc, int64_t cols,
                               int nr, float* dst, int64_t stride, const ColumnTable& t, const GroupRuns* runs,
                               const uint16_t* rowInside) {
  const int64_t KHW = g.KHW(), padded = (cols + nr - 1) / nr * nr, groups = (cols + 15) / 16;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i seven = _mm512_set1_epi32(7), three = _mm512_set1_epi32(3);
  // pick[b]: lanes 0-7 take elements b, 4+b, ..., 28+b of a vector pair (permutex2var);
  // pickHigh[b]: lanes 0-3 take b, 4+b, 8+b, 12+b of one vector; down[a]: lanes a .. a+15 of a pair.
  __m512i pick[4], pickHigh[4], down[5];
  for (int b = 0; b < 4; b++) {
    pick[b] = _mm512_add_epi32(_mm512_slli_epi32(_mm512_and_si512(lane, seven), 2), _mm512_set1_epi32(b));
    pickHigh[b] = _mm512_add_epi32(_mm512_slli_epi32(_mm512_and_si512(lane, three), 2), _mm512_set1_epi32(b));
  }
  for (int a = 0; a < 5; a++) down[a] = _mm512_add_epi32(lane, _mm512_set1_epi32(a));

  for (int64_t r = k0; r < k0 + kc;) {
    // The taps kw0 .. kw1-1 of channel c, kernel row kh that fall in this block of rows.
    const int64_t c = c0 + r / KHW, kh = (r % KHW) / g.KW, kw0 = r % g.KW;
    const int64_t kw1 = std::min<int64_t>(g.KW, kw0 + (k0 + kc - r)), taps = kw1 - kw0;
    const int32_t dh = int32_t(kh * g.DH);
    const float* rowBase = base + c * g.HW() + dh * g.W;
    float* rows = dst + (r - k0) * nr;
    for (int64_t pi = 0, j = 0; j < padded; pi++) {
      for (int64_t q = 0; q < nr; q += 16, j += 16) {
        float* out = rows + pi * stride + q;
        const GroupRuns* gr = j < cols ? runs + j / 16 : nullptr;
        if (gr && !gr->count) {  // more runs than fillRuns keeps: gather tap by tap
          for (int64_t kw = kw0; kw < kw1; kw++)
            gatherGroup(out + (kw - kw0) * nr, j, cols, _mm512_set1_epi32(dh), _mm512_set1_epi32(int32_t(kw)), t.ih0,
                        t.iw0, t.corner, rowBase + kw, g);
          continue;
        }
        // A run lies in one output row, so its lanes are all inside the image's rows or none.
        const __mmask16 rowIn = gr ? __mmask16(rowInside[kh * groups + j / 16]) : __mmask16(0);
        __mmask16 covered = 0;
        for (int u = 0; gr && u < gr->count; u++) covered |= __mmask16(gr->lanes[u]) & rowIn;
        if (covered != 0xFFFF)
          for (int64_t k = 0; k < taps; k++) _mm512_storeu_ps(out + k * nr, _mm512_setzero_ps());
        for (int u = 0; gr && u < gr->count; u++) {
          const __mmask16 m = __mmask16(gr->lanes[u]) & rowIn;
          if (!m) continue;
          // Lanes first..last read elements 4*first + kw0 .. 4*last + kw1 - 1 of the span: all
          // inside one input row, so the masked loads touch nothing outside the image.
          const int64_t first = __builtin_ctz(m), last = 31 - __builtin_clz(uint32_t(m));
          const int64_t lo = 4 * first + kw0, hi = 4 * last + kw1 - 1;
          const float* p = rowBase + gr->start[u];
          __m512 v[5];
          for (int s = 0; s < 5; s++) v[s] = _mm512_maskz_loadu_ps(spanMask(lo, hi, s), p + 16 * s);
          __m512 phase[4], phaseHigh[4];
          for (int b = 0; b < 4; b++) {
            const __m512 a01 = _mm512_permutex2var_ps(v[0], pick[b], v[1]);
            const __m512 a23 = _mm512_permutex2var_ps(v[2], pick[b], v[3]);
            phase[b] = _mm512_shuffle_f32x4(a01, a23, _MM_SHUFFLE(1, 0, 1, 0));
            phaseHigh[b] = _mm512_permutexvar_ps(pickHigh[b], v[4]);
          }
          for (int64_t kw = kw0; kw < kw1; kw++) {
            const int64_t a = kw >> 2, b = kw & 3;
            const __m512 tap = a ? _mm512_permutex2var_ps(phase[b], down[a], phaseHigh[b]) : phase[b];
            _mm512_mask_storeu_ps(out + (kw - kw0) * nr, m, tap);
          }
        }
      }
    }
    r += taps;
  }
}

// 16 columns per gather; a group of 16 lies inside one panel since nr is a multiple of 16.
// Groups made of runs (a column stride of 1, 2 or 4) take masked loads, with their padding masks looked up per tap
// (which lanes' rows are inside for each kh, which columns for each kw) instead of computed.
//
// Panel by panel, and within a panel group by group, tap row by tap row: a panel (kc x nr
// floats, 48 KB for kc = 384) is written as a few forward streams. Tap row by tap row across
// the whole slab, every row wrote a line in each of its panels (20 in a slab of 640 columns,
// ~1 MB in all): that was 5.5% of AlexNet's batch-32 inference on Zen 4, its stores waiting.
// The input a panel reads (its 32 columns' windows in a few dozen channel planes) stays in L1.
CK_AVX512 void packAvx512(const float* base, const Conv2dGeom& g, int64_t c0, int64_t k0, int64_t kc, int64_t cols,
                          int nr, float* dst, int64_t stride, const ColumnTable& t, const GroupRuns* runs,
                          const uint16_t* rowInside, const uint16_t* colInside) {
  if (stride4TapsApply(g)) return packStride4Taps(base, g, c0, k0, kc, cols, nr, dst, stride, t, runs, rowInside);
  const int64_t KHW = g.KHW(), padded = (cols + nr - 1) / nr * nr, groups = (cols + 15) / 16;
  const int32_t step = int32_t(g.SW);
  // Per tap row: where it reads, relative to a column's window corner, and which tap it is.
  thread_local std::vector<int32_t> rowAt, rowTap;
  // Per tap, for the group at hand: the lanes whose window tap lands inside the image.
  thread_local std::vector<uint16_t> tapInside;
  rowAt.resize(size_t(kc));
  rowTap.resize(size_t(kc));
  tapInside.resize(size_t(KHW));
  for (int64_t i = 0; i < kc; i++) {
    const int64_t r = k0 + i, c = c0 + r / KHW, kh = (r % KHW) / g.KW, kw = r % g.KW;
    rowAt[size_t(i)] = int32_t(c * g.HW() + kh * g.DH * g.W + kw * g.DW);
    rowTap[size_t(i)] = int32_t(r % KHW);
  }
  const int32_t* at = rowAt.data();
  const int32_t* tap = rowTap.data();
  const uint16_t* inside = tapInside.data();
  for (int64_t pi = 0, j = 0; j < padded; pi++, j += nr)
    for (int64_t q = 0; q < nr; q += 16) {
      const int64_t jq = j + q, gi = jq / 16;
      float* out = dst + pi * stride + q;
      if (jq >= cols) {  // past `cols`: zeros
        for (int64_t i = 0; i < kc; i++) _mm512_storeu_ps(out + i * nr, _mm512_setzero_ps());
        continue;
      }
      const GroupRuns& gr = runs[gi];
      if (!gr.count) {  // not runs: gathered, with the tap's row and column offsets
        for (int64_t i = 0; i < kc; i++) {
          const __m512i dh = _mm512_set1_epi32(int32_t(tap[i] / g.KW * g.DH));
          const __m512i dw = _mm512_set1_epi32(int32_t(tap[i] % g.KW * g.DW));
          gatherGroup(out + i * nr, jq, cols, dh, dw, t.ih0, t.iw0, t.corner, base + at[i], g);
        }
        continue;
      }
      for (int64_t kh = 0, k = 0; kh < g.KH; kh++)
        for (int64_t kw = 0; kw < g.KW; kw++, k++)
          tapInside[size_t(k)] = uint16_t(rowInside[kh * groups + gi] & colInside[kw * groups + gi]);
      if (step == 1 && gr.count == 1) {  // the common case: one run (13x13 planes: most groups)
        const float* p = base + gr.start[0];
        const __mmask16 lanes = __mmask16(gr.lanes[0]);
        for (int64_t i = 0; i < kc; i++)
          _mm512_storeu_ps(out + i * nr, _mm512_maskz_loadu_ps(__mmask16(inside[tap[i]]) & lanes, p + at[i]));
        continue;
      }
      for (int64_t i = 0; i < kc; i++) {
        __m512 v = _mm512_setzero_ps();
        for (int u = 0; u < gr.count; u++) {
          const __mmask16 m = __mmask16(inside[tap[i]]) & __mmask16(gr.lanes[u]);
          v = _mm512_mask_mov_ps(v, m, loadRun(base + at[i] + gr.start[u], step, m));
        }
        _mm512_storeu_ps(out + i * nr, v);
      }
    }
}

// rowInside[kh * groups + gi]: the live lanes of group gi whose row ih0 + kh*DH is inside the
// image; colInside likewise for columns and kw.
void fillInside(const Conv2dGeom& g, const ColumnTable& t, int64_t cols, uint16_t* rowInside, uint16_t* colInside) {
  const int64_t groups = (cols + 15) / 16;
  for (int64_t gi = 0; gi < groups; gi++) {
    for (int64_t kh = 0; kh < g.KH; kh++) rowInside[kh * groups + gi] = 0;
    for (int64_t kw = 0; kw < g.KW; kw++) colInside[kw * groups + gi] = 0;
    for (int64_t l = 0; l < 16 && gi * 16 + l < cols; l++) {
      const int64_t j = gi * 16 + l;
      for (int64_t kh = 0; kh < g.KH; kh++)
        if (uint64_t(t.ih0[j] + kh * g.DH) < uint64_t(g.H)) rowInside[kh * groups + gi] |= uint16_t(1u << l);
      for (int64_t kw = 0; kw < g.KW; kw++)
        if (uint64_t(t.iw0[j] + kw * g.DW) < uint64_t(g.W)) colInside[kw * groups + gi] |= uint16_t(1u << l);
    }
  }
}
#endif

// Where each tap row reads, relative to a position's window corner: its channel plane plus the
// tap's row and column offsets (dh, dw, which decide whether it lands in the padding).
struct TapTable {
  int32_t* dh;
  int32_t* dw;
  int32_t* offset;  // (c - c0) * HW + dh * W + dw
};

void fillTaps(const Conv2dGeom& g, int64_t n0, int64_t cols, TapTable t) {
  const int64_t KHW = g.KHW();
  for (int64_t j = 0; j < cols; j++) {
    const int64_t r = n0 + j, c = r / KHW, kh = (r % KHW) / g.KW, kw = r % g.KW;
    t.dh[j] = int32_t(kh * g.DH);
    t.dw[j] = int32_t(kw * g.DW);
    t.offset[j] = int32_t(c * g.HW() + kh * g.DH * g.W + kw * g.DW);
  }
}

// op(B)[k][j] = column matrix [tap n0 + j][position k0 + k].
void packTransposedScalar(const float* base, const Conv2dGeom& g, int64_t kc, int64_t cols, int nr, float* dst,
                          int64_t stride, const ColumnTable& pos, const TapTable& taps) {
  const int64_t padded = (cols + nr - 1) / nr * nr;
  for (int64_t k = 0; k < kc; k++) {
    float* row = dst + k * nr;
    for (int64_t pi = 0, j = 0; j < padded; pi++)
      for (int64_t q = 0; q < nr; q++, j++) {
        float v = 0.0f;
        if (j < cols) {
          const uint32_t ih = uint32_t(pos.ih0[k] + taps.dh[j]), iw = uint32_t(pos.iw0[k] + taps.dw[j]);
          if (ih < uint32_t(g.H) && iw < uint32_t(g.W)) v = base[pos.corner[k] + taps.offset[j]];
        }
        row[pi * stride + q] = v;
      }
  }
}

#ifdef CK_HAVE_AVX512_PATH
// The transposed packer's groups are 16 taps, whose offsets are the same at every position:
// taps of one kernel row are consecutive addresses (the kw runs, 11 long in AlexNet's conv1, 3
// or 5 in the others), so a group of 16 taps is a few runs, found once per call and read with
// one masked load each; its padding mask is still computed per position (as gatherGroup does).
constexpr int kMaxTapRuns = 8;
struct TapRuns {
  int32_t start[kMaxTapRuns];  // lane l of run r reads corner + start[r] + l
  uint16_t lanes[kMaxTapRuns];
  int8_t count;  // 0: gather
};

void fillTapRuns(const TapTable& taps, int64_t cols, TapRuns* runs) {
  for (int64_t j0 = 0; j0 < cols; j0 += 16) {
    TapRuns& tr = runs[j0 / 16];
    tr.count = 0;
    const int64_t n = cols - j0 < 16 ? cols - j0 : 16;
    for (int64_t l = 0; l < n; l++) {
      const bool extends = l > 0 && taps.offset[j0 + l] == taps.offset[j0 + l - 1] + 1 &&
                           taps.dh[j0 + l] == taps.dh[j0 + l - 1] && taps.dw[j0 + l] == taps.dw[j0 + l - 1] + 1;
      if (!extends) {
        if (tr.count == kMaxTapRuns) {
          tr.count = 0;
          break;
        }
        tr.start[tr.count] = taps.offset[j0 + l] - int32_t(l);
        tr.lanes[tr.count] = 0;
        tr.count++;
      }
      tr.lanes[tr.count - 1] |= uint16_t(1u << l);
    }
  }
}

CK_AVX512 void packTransposedAvx512(const float* base, const Conv2dGeom& g, int64_t kc, int64_t cols, int nr,
                                    float* dst, int64_t stride, const ColumnTable& pos, const TapTable& taps,
                                    const TapRuns* runs) {
  const int64_t padded = (cols + nr - 1) / nr * nr;
  const __m512i H = _mm512_set1_epi32(int32_t(g.H)), W = _mm512_set1_epi32(int32_t(g.W));
  // Taps reach rows ih0 .. ih0 + (KH - 1) * DH of a position's window (columns likewise).
  const int32_t spanH = int32_t((g.KH - 1) * g.DH), spanW = int32_t((g.KW - 1) * g.DW);
  // Group by group, every position in turn: a group's few input rows are then read as a few
  // forward streams (the hardware prefetchers follow them), where position by position every
  // tap row of the window was a stream of its own and the first load of each group waited on
  // memory (half of the packing's time in conv1's filter gradient).
  for (int64_t pi = 0, j = 0; j < padded; pi++)
    for (int64_t q = 0; q < nr; q += 16, j += 16) {
      float* col = dst + pi * stride + q;
      const TapRuns* tr = j < cols ? runs + j / 16 : nullptr;
      if (!tr || !tr->count) {
        for (int64_t k = 0; k < kc; k++)
          gatherGroup(col + k * nr, j, cols, _mm512_set1_epi32(pos.ih0[k]), _mm512_set1_epi32(pos.iw0[k]), taps.dh,
                      taps.dw, taps.offset, base + pos.corner[k], g);
        continue;
      }
      const __mmask16 live = cols - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - j)) - 1);
      const __m512i dh = _mm512_maskz_loadu_epi32(live, taps.dh + j), dw = _mm512_maskz_loadu_epi32(live, taps.dw + j);
      for (int64_t k = 0; k < kc; k++) {
        const int32_t ih0 = pos.ih0[k], iw0 = pos.iw0[k];
        // A window wholly inside the image (most positions: 72% of AlexNet's 13x13 layers, all of
        // conv1's) reads every live tap, so it skips the per-tap padding test.
        __mmask16 inside = live;
        if (!(ih0 >= 0 && ih0 + spanH < g.H && iw0 >= 0 && iw0 + spanW < g.W)) {
          const __m512i ih = _mm512_add_epi32(_mm512_set1_epi32(ih0), dh);
          const __m512i iw = _mm512_add_epi32(_mm512_set1_epi32(iw0), dw);
          inside &= _mm512_cmplt_epu32_mask(ih, H) & _mm512_cmplt_epu32_mask(iw, W);
        }
        const float* corner = base + pos.corner[k];
        __m512 v = _mm512_setzero_ps();
        for (int u = 0; u < tr->count; u++)
          v = _mm512_mask_loadu_ps(v, inside & __mmask16(tr->lanes[u]), corner + tr->start[u]);
        _mm512_storeu_ps(col + k * nr, v);
      }
    }
}
#endif

}  // namespace

// The transposed packer's tables: its taps' (kept per thread, TableKey) and its positions'.
struct TransposedTables {
  TableKey key;
  std::vector<int32_t> taps;  // dh, dw, offset: cols each
  std::vector<TapRuns> runs;  // AVX-512 only
  std::vector<int32_t> pos;   // ih0, iw0, corner: kc each, made per call
};

void im2colPanelsTransposed(const float* x, const Conv2dGeom& g, const ColumnBlock& b, int64_t k0, int64_t kc,
                            int64_t n0, int64_t cols, int nr, float* dst, int64_t stride) {
  thread_local TransposedTables m;
  if (!m.key.holds(g, n0, cols)) {
    m.taps.resize(size_t(3 * cols));
    fillTaps(g, n0, cols, TapTable{m.taps.data(), m.taps.data() + cols, m.taps.data() + 2 * cols});
    m.runs.clear();
  }
  const TapTable taps{m.taps.data(), m.taps.data() + cols, m.taps.data() + 2 * cols};
  m.pos.resize(size_t(3 * kc));
  const ColumnTable pos{m.pos.data(), m.pos.data() + kc, m.pos.data() + 2 * kc};
  fillTable(g, k0, kc, pos);
  const float* base = x + (b.n0 * g.C + b.c0) * g.HW();
#ifdef CK_HAVE_AVX512_PATH
  if (nr % 16 == 0 && cpuHasAvx512() && b.images * g.C * g.HW() < INT32_MAX) {
    if (m.runs.empty()) {
      m.runs.resize(size_t((cols + 15) / 16));
      fillTapRuns(taps, cols, m.runs.data());
    }
    return packTransposedAvx512(base, g, kc, cols, nr, dst, stride, pos, taps, m.runs.data());
  }
#endif
  packTransposedScalar(base, g, kc, cols, nr, dst, stride, pos, taps);
}

void setConvPackedColumns(bool on) { gPacked.store(on); }
bool convPackedColumns() { return gPacked.load(); }

// The forward packer's tables, kept per thread (TableKey).
struct ForwardTables {
  TableKey key;
  std::vector<int32_t> table;  // ih0, iw0, corner: cols each
#ifdef CK_HAVE_AVX512_PATH
  std::vector<GroupRuns> runs;   // AVX-512 only
  std::vector<uint16_t> inside;  // rowInside [KH * groups], then colInside [KW * groups]
#endif
};

void im2colPanels(const float* x, const Conv2dGeom& g, const ColumnBlock& b, int64_t k0, int64_t kc, int64_t n0,
                  int64_t cols, int nr, float* dst, int64_t stride) {
  thread_local ForwardTables m;
  if (!m.key.holds(g, n0, cols)) {
    m.table.resize(size_t(3 * cols));
    fillTable(g, n0, cols, ColumnTable{m.table.data(), m.table.data() + cols, m.table.data() + 2 * cols});
#ifdef CK_HAVE_AVX512_PATH
    m.runs.clear();
#endif
  }
  const ColumnTable t{m.table.data(), m.table.data() + cols, m.table.data() + 2 * cols};
  const float* base = x + b.n0 * g.C * g.HW();
#ifdef CK_HAVE_AVX512_PATH
  // Gather indices are 32-bit: the block's images must span fewer than 2^31 floats.
  if (nr % 16 == 0 && cpuHasAvx512() && b.images * g.C * g.HW() < INT32_MAX) {
    const int64_t groups = (cols + 15) / 16;
    if (m.runs.empty()) {
      m.runs.resize(size_t(groups));
      m.inside.resize(size_t(groups * (g.KH + g.KW)));
      fillRuns(t, cols, int32_t(g.SW), m.runs.data());
      fillInside(g, t, cols, m.inside.data(), m.inside.data() + groups * g.KH);
    }
    return packAvx512(base, g, b.c0, k0, kc, cols, nr, dst, stride, t, m.runs.data(), m.inside.data(),
                      m.inside.data() + groups * g.KH);
  }
#endif
  packScalar(base, g, b.c0, k0, kc, cols, nr, dst, stride, t);
}

const char* im2colPanelsPathName() {
#ifdef CK_HAVE_AVX512_PATH
  if (cpuHasAvx512()) return "avx512";
#endif
  return "portable";
}

}  // namespace ck::cpu
