// The two inner loops of the direct convolution (conv_direct.cc), written once with GCC vector
// extensions and compiled twice: conv_direct_avx512.cc (16 float lanes in zmm registers, FMAs)
// and conv_direct_portable.cc (the same code lowered to baseline SSE, with smaller register
// tiles). Include inside a namespace, after defining CK_DIRECT_OB / CK_DIRECT_PV /
// CK_DIRECT_TB (register tile sizes).
//
// Both work on "wide" planes: an input channel is stored with row stride Wp (padding included),
// and output position p = oh * Wp + ow, so that for a tap (c, kh, kw) the inputs of every output
// position are the contiguous run in[c * plane + kh * Wp + kw + p]. Positions with ow >= OW
// are computed too and thrown away (forward), or multiply zeros (filter gradient).
// The including file provides <cstdint>.

typedef float vf __attribute__((vector_size(64)));
typedef float vfu __attribute__((vector_size(64), aligned(4), may_alias));

static inline vf loadv(const float* p) { return *reinterpret_cast<const vfu*>(p); }
static inline void storev(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
static inline float hsum(vf v) {
  float s = 0;
  for (int i = 0; i < 16; i++) s += v[i];
  return s;
}

// OB output channels x PV vectors of 16 positions, accumulated in registers over all taps.
template <int OB, int PV>
static inline void corrTile(const float* in, const int32_t* off, int64_t T, const float* w, int64_t ldw,
                            const float* bias, float* out, int64_t ldo) {
  vf acc[OB][PV];
  for (int o = 0; o < OB; o++)
    for (int v = 0; v < PV; v++) acc[o][v] = vf{} + (bias ? bias[o] : 0.0f);
  for (int64_t t = 0; t < T; t++) {
    const float* src = in + off[t];
    vf x[PV];
    for (int v = 0; v < PV; v++) x[v] = loadv(src + 16 * v);
    for (int o = 0; o < OB; o++) {
      const float wv = w[o * ldw + t];
      for (int v = 0; v < PV; v++) acc[o][v] += wv * x[v];
    }
  }
  for (int o = 0; o < OB; o++)
    for (int v = 0; v < PV; v++) storev(out + o * ldo + 16 * v, acc[o][v]);
}

template <int OB>
static void corrRows(const float* in, const int32_t* off, int64_t T, const float* w, const float* bias, int64_t P,
                     float* out, int64_t ldo) {
  int64_t p = 0;
  for (; p + 16 * CK_DIRECT_PV <= P; p += 16 * CK_DIRECT_PV)
    corrTile<OB, CK_DIRECT_PV>(in + p, off, T, w, T, bias, out + p, ldo);
  for (; p < P; p += 16) corrTile<OB, 1>(in + p, off, T, w, T, bias, out + p, ldo);
}

// out[o * ldo + p] = bias[o] + sum_t w[o * T + t] * in[off[t] + p] for o < OC, p < P (P a
// multiple of 16). bias may be null.
static void corr(const float* in, const int32_t* off, int64_t T, const float* w, const float* bias, int64_t OC,
                 int64_t P, float* out, int64_t ldo) {
  for (int64_t o0 = 0; o0 < OC; o0 += CK_DIRECT_OB) {
    const int64_t ob = OC - o0 < CK_DIRECT_OB ? OC - o0 : CK_DIRECT_OB;
    const float* wb = w + o0 * T;
    const float* bb = bias ? bias + o0 : nullptr;
    float* ob_out = out + o0 * ldo;
    switch (ob) {
#define CK_CASE(n)                                                                                    \
  case n:                                                                                             \
    if (n <= CK_DIRECT_OB) corrRows<(n <= CK_DIRECT_OB ? n : 1)>(in, off, T, wb, bb, P, ob_out, ldo); \
    break;
      CK_CASE(1) CK_CASE(2) CK_CASE(3) CK_CASE(4) CK_CASE(5) CK_CASE(6)
#undef CK_CASE
    }
  }
}

// Sixteen output channels in the lanes of one vector, R output positions at a time, each
// position's taps broadcast from its own window: only the valid positions of the wide rows are
// computed, where corr computes all of a row's wp and throws wp - OW away (LeNet-5's C3: 4 of
// every 14). The same terms in the same order as corr (the bias, then tap by tap), so the same
// bits. wT holds the weights transposed: wT[t * 16 + o] = w[o * T + t].
template <int R>
static inline void corr16Tile(const float* in, const int32_t* pos, const int32_t* off, int64_t T, const float* wT,
                              const float* bias, float* out, int64_t ldo) {
  const float* b[R];
  vf acc[R];
  const vf init = vf{} + (bias ? loadv(bias) : vf{});  // corr's vf{} + bias[o]
  for (int i = 0; i < R; i++) {
    b[i] = in + pos[i];
    acc[i] = init;
  }
  for (int64_t t = 0; t < T; t++) {
    const vf w = loadv(wT + 16 * t);
    const int32_t o = off[t];
    for (int i = 0; i < R; i++) acc[i] += w * b[i][o];
  }
  for (int i = 0; i < R; i++)
    for (int l = 0; l < 16; l++) out[l * ldo + pos[i]] = acc[i][l];
}

// out[o * ldo + p] = bias[o] + sum_t wT[t * 16 + o] * in[off[t] + p] for o < 16 and the valid
// positions p = oh * wp + ow (oh < OH, ow < OW) of wide rows; the others are not written.
static void corr16(const float* in, const int32_t* off, int64_t T, const float* wT, const float* bias, int64_t OH,
                   int64_t OW, int64_t wp, float* out, int64_t ldo) {
  int32_t pos[CK_DIRECT_R16];
  int n = 0;
  for (int64_t oh = 0; oh < OH; oh++)
    for (int64_t ow = 0; ow < OW; ow++) {
      pos[n++] = int32_t(oh * wp + ow);
      if (n == CK_DIRECT_R16) {
        corr16Tile<CK_DIRECT_R16>(in, pos, off, T, wT, bias, out, ldo);
        n = 0;
      }
    }
  switch (n) {
#define CK_CASE(m)                                                                                       \
  case m:                                                                                                \
    if (m < CK_DIRECT_R16) corr16Tile<(m < CK_DIRECT_R16 ? m : 1)>(in, pos, off, T, wT, bias, out, ldo); \
    break;
    CK_CASE(1) CK_CASE(2) CK_CASE(3) CK_CASE(4) CK_CASE(5) CK_CASE(6) CK_CASE(7)
#undef CK_CASE
  }
}

// OB channels of d x TB taps: dot products over P positions, kept as vectors until the end.
template <int OB, int TB>
static inline void gradTile(const float* d, int64_t ldd, const float* in, const int32_t* off, int64_t P, float* dw,
                            int64_t ldw) {
  vf acc[OB][TB];
  for (int o = 0; o < OB; o++)
    for (int j = 0; j < TB; j++) acc[o][j] = vf{};
  for (int64_t p = 0; p < P; p += 16) {
    vf dv[OB];
    for (int o = 0; o < OB; o++) dv[o] = loadv(d + o * ldd + p);
    for (int j = 0; j < TB; j++) {
      const vf x = loadv(in + off[j] + p);
      for (int o = 0; o < OB; o++) acc[o][j] += dv[o] * x;
    }
  }
  // Kept as vectors: a horizontal sum per (channel, tap) and image cost more than the dot
  // products themselves on small planes (LeNet's C3: 9 vectors per dot product).
  for (int o = 0; o < OB; o++)
    for (int j = 0; j < TB; j++) storev(dw + (o * ldw + j) * 16, loadv(dw + (o * ldw + j) * 16) + acc[o][j]);
}

template <int OB>
static void gradRows(const float* d, int64_t ldd, const float* in, const int32_t* off, int64_t T, int64_t P,
                     float* dw) {
  int64_t t = 0;
  for (; t + CK_DIRECT_TB <= T; t += CK_DIRECT_TB) gradTile<OB, CK_DIRECT_TB>(d, ldd, in, off + t, P, dw + t * 16, T);
  for (; t < T; t++) gradTile<OB, 1>(d, ldd, in, off + t, P, dw + t * 16, T);
}

// dw[(o * T + t) * 16 + lane] += the lanes of sum_{p < P} d[o * ldd + p] * in[off[t] + p] for
// o < OC, t < T (P a multiple of 16); sumLanes folds the 16 lanes once at the end.
static void corrGrad(const float* d, int64_t ldd, const float* in, const int32_t* off, int64_t T, int64_t OC, int64_t P,
                     float* dw) {
  for (int64_t o0 = 0; o0 < OC; o0 += CK_DIRECT_GB) {
    const int64_t ob = OC - o0 < CK_DIRECT_GB ? OC - o0 : CK_DIRECT_GB;
    switch (ob) {
#define CK_CASE(n)                                                                                                    \
  case n:                                                                                                             \
    if (n <= CK_DIRECT_GB) gradRows<(n <= CK_DIRECT_GB ? n : 1)>(d + o0 * ldd, ldd, in, off, T, P, dw + o0 * T * 16); \
    break;
      CK_CASE(1) CK_CASE(2) CK_CASE(3) CK_CASE(4)
#undef CK_CASE
    }
  }
}

// activation.h's reluOf(v + 0) on 16 lanes: -0 becomes +0, a NaN stays NaN.
static inline vf reluv(vf v) {
  v = v + vf{};
  return v < vf{} ? vf{} : v;
}

// Row copies between dense [channels, h, w] planes and wide planes (row stride wp), optionally
// through the ReLU: rows are short (5 to 32 floats), where a memcpy call costs more than the
// copy. Whole vectors, then the last 16 floats again (overlapping), or for rows under 16 the
// build's loadFirst / storeFirst: as scalar loops these copies were a seventh of LeNet-5's
// batch-256 inference and the ReLU pass after them another ninth.
static void copyRows(const float* src, int64_t srcStride, float* dst, int64_t dstStride, int64_t rows, int64_t len,
                     bool relu) {
  auto through = [relu](vf v) { return relu ? reluv(v) : v; };
  for (int64_t r = 0; r < rows; r++) {
    const float* s = src + r * srcStride;
    float* d = dst + r * dstStride;
    if (len < 16) {
      storeFirst(d, through(loadFirst(s, len)), len);
      continue;
    }
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) storev(d + i, through(loadv(s + i)));
    if (i < len) storev(d + len - 16, through(loadv(s + len - 16)));
  }
}

// One step of the max pool's scan (pool_avx512.cc's stepValue, PyTorch's rule): v replaces
// best where it is greater or NaN.
static inline vf maxStep(vf v, vf best) { return (v > best) | (v != v) ? v : best; }

typedef int vi __attribute__((vector_size(64)));

// A 2x2 / 2 max pool straight out of wide rows (row stride wp, through the ReLU first when relu
// is set): dst[r * ow + c] = max over rows 2r, 2r+1 and columns 2c, 2c+1, for r < oh, c < ow.
// The window is scanned in row-major order from its first element, as maxPool2dValues scans
// relu(conv) (bit for bit the same values). Reads 32 floats of each row per 16 outputs: the
// caller leaves 32 floats of slack past the last row.
static void poolRows2x2(const float* wide, int64_t wp, int64_t oh, int64_t ow, float* dst, bool relu) {
  auto through = [relu](vf v) { return relu ? reluv(v) : v; };
  const vi evens = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  const vi odds = evens + 1;
  for (int64_t r = 0; r < oh; r++) {
    const float* r0 = wide + 2 * r * wp;
    const float* r1 = r0 + wp;
    float* d = dst + r * ow;
    for (int64_t c = 0; c < ow; c += 16) {
      const vf a0 = through(loadv(r0 + 2 * c)), b0 = through(loadv(r0 + 2 * c + 16));
      const vf a1 = through(loadv(r1 + 2 * c)), b1 = through(loadv(r1 + 2 * c + 16));
      vf best = __builtin_shuffle(a0, b0, evens);
      best = maxStep(__builtin_shuffle(a0, b0, odds), best);
      best = maxStep(__builtin_shuffle(a1, b1, evens), best);
      best = maxStep(__builtin_shuffle(a1, b1, odds), best);
      if (ow - c >= 16) storev(d + c, best);
      else storeFirst(d + c, best, ow - c);
    }
  }
}

// y[n * ldy + o] = (bias ? bias[o] : 0) + sum_k x[n * K + k] * w[o * K + k] for n < NB, o < OC:
// a few samples through a dense layer. Each weight row is read once for all NB samples (at batch
// 1-4 the layer is bound by reading the weights), R rows at a time: R weight streams in flight
// keep more memory reads outstanding (AlexNet's fc6-fc8 at batch 1 streamed at ~33 GB/s with 4
// rows and ~35 with 8 here), and each x vector loaded serves R rows.
template <int NB, int R>
static void gemvRows(const float* x, const float* w, const float* bias, int64_t OC, int64_t K, float* y, int64_t ldy) {
  int64_t o = 0;
  for (; o + R <= OC; o += R) {
    const float* w0 = w + o * K;
    vf a[NB][R] = {};
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      vf r[R];
      for (int i = 0; i < R; i++) r[i] = loadv(w0 + i * K + k);
      for (int n = 0; n < NB; n++) {
        const vf xv = loadv(x + n * K + k);
        for (int i = 0; i < R; i++) a[n][i] += xv * r[i];
      }
    }
    for (int n = 0; n < NB; n++)
      for (int i = 0; i < R; i++) {
        float s = hsum(a[n][i]);
        for (int64_t j = k; j < K; j++) s += x[n * K + j] * w0[i * K + j];
        y[n * ldy + o + i] = s + (bias ? bias[o + i] : 0.0f);
      }
  }
  for (; o < OC; o++) {
    const float* wr = w + o * K;
    for (int n = 0; n < NB; n++) {
      vf a{};
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) a += loadv(x + n * K + k) * loadv(wr + k);
      float s = hsum(a);
      for (; k < K; k++) s += x[n * K + k] * wr[k];
      y[n * ldy + o] = s + (bias ? bias[o] : 0.0f);
    }
  }
}

// Rows of w are taken kBlock at a time and every group of 4 batch rows is run against them
// before the next block is read, so w streams from memory once whatever N is (a block is a few
// hundred KB at most and stays in L2). Within a block the tiles are those of one gemvRows call
// over the block, and a block is a whole number of tiles, so each output's sums are the same as
// for gemvRows over all of w. R1..R4: rows of w per tile for a group of 1..4 batch rows.
template <int64_t kBlock, int R1, int R2, int R3, int R4>
static void gemvBlocks(const float* x, int64_t N, const float* w, const float* bias, int64_t OC, int64_t K, float* y,
                       int64_t ldy) {
  for (int64_t o0 = 0; o0 < OC; o0 += kBlock) {
    const int64_t rows = OC - o0 < kBlock ? OC - o0 : kBlock;
    const float* wb = w + o0 * K;
    const float* bb = bias ? bias + o0 : nullptr;
    for (int64_t n0 = 0; n0 < N; n0 += 4) {
      const float* xs = x + n0 * K;
      float* ys = y + n0 * ldy + o0;
      switch (N - n0 >= 4 ? 4 : N - n0) {
        case 1: gemvRows<1, R1>(xs, wb, bb, rows, K, ys, ldy); break;
        case 2: gemvRows<2, R2>(xs, wb, bb, rows, K, ys, ldy); break;
        case 3: gemvRows<3, R3>(xs, wb, bb, rows, K, ys, ldy); break;
        default: gemvRows<4, R4>(xs, wb, bb, rows, K, ys, ldy); break;
      }
    }
  }
}

// More than 4 batch rows (linear layers up to kSmallBatchLinear): 4 x CK_GEMV_WIDE_ROWS tiles
// (AVX-512: 4 x 6, 24 accumulators and 10 loads per 24 FMAs) over blocks of 12 rows of w. AlexNet's
// fc6 at batch 16 ran ~1.35x faster this way than through the GEMM, which packed all of W on every
// call. Up to 4 rows: as many rows of w at a time as the registers hold next to NB accumulators
// each, in blocks of 8.
#ifndef CK_GEMV_WIDE_ROWS
#define CK_GEMV_WIDE_ROWS 6
#endif
static void gemv(const float* x, int64_t N, const float* w, const float* bias, int64_t OC, int64_t K, float* y,
                 int64_t ldy) {
  constexpr int R = CK_GEMV_WIDE_ROWS;
  if (N > 4) return gemvBlocks<12, R, R, R, R>(x, N, w, bias, OC, K, y, ldy);  // 12: a multiple of R
  gemvBlocks<8, 8, 8, 4, 4>(x, N, w, bias, OC, K, y, ldy);
}

// out[i] = sum of the 16 lanes of v[i * 16 ...], for i < n.
static void sumLanes(const float* v, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i++) out[i] = hsum(loadv(v + i * 16));
}
