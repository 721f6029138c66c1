// The inner loop of the bf16-weight linear forward (linear_bf16.cc), written once with GCC
// vector extensions and compiled twice: linear_bf16_avx512.cc (16 float lanes in a zmm register;
// the widening is vpmovzxwd + vpslld) and linear_bf16_portable.cc (the same code lowered to
// baseline SSE). Include inside a namespace after defining CK_BF16_ROWS (weight rows per
// register tile at batch 1 and 2; even). The including file provides <cstdint>.
//
// Rows of W are taken CK_BF16_ROWS at a time and every batch row is run against them before the
// next rows are read, so W streams from memory once per call whatever N is (a block of rows is
// at most a few hundred KB and stays in L2 while the batch is walked in groups of up to 4).

typedef float vf __attribute__((vector_size(64)));
typedef float vfu __attribute__((vector_size(64), aligned(4), may_alias));
typedef uint32_t vu __attribute__((vector_size(64)));
typedef uint16_t vhu __attribute__((vector_size(32), aligned(2), may_alias));

static inline vf loadv(const float* p) { return *reinterpret_cast<const vfu*>(p); }
// 16 bf16 values widened to fp32: a bf16 is the high half of the float with the same bits. An
// including file may define CK_BF16_LOAD (the AVX-512 one does: GCC lowers the generic
// conversion to two half-width vpmovzxwd and an insert per vector).
#ifdef CK_BF16_LOAD
static inline vf loadBf16(const uint16_t* p) { return CK_BF16_LOAD(p); }
#else
static inline vf loadBf16(const uint16_t* p) {
  const vu u = __builtin_convertvector(*reinterpret_cast<const vhu*>(p), vu) << 16;
  return (vf)u;  // a cast between vector types of one size keeps the bits
}
#endif
static inline float widen(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
static inline float hsum(vf v) {
  float s = 0;
  for (int i = 0; i < 16; i++) s += v[i];
  return s;
}

// NB batch rows x R weight rows, accumulated over all of K.
template <int NB, int R>
static inline void tile(const float* x, const uint16_t* w, int64_t ldw, const float* bias, int64_t K, float* y,
                        int64_t ldy) {
  vf a[NB][R] = {};
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    vf r[R];
    for (int i = 0; i < R; i++) r[i] = loadBf16(w + i * ldw + k);
    for (int n = 0; n < NB; n++) {
      const vf xv = loadv(x + n * K + k);
      for (int i = 0; i < R; i++) a[n][i] += xv * r[i];
    }
  }
  for (int n = 0; n < NB; n++)
    for (int i = 0; i < R; i++) {
      float s = hsum(a[n][i]);
      for (int64_t j = k; j < K; j++) s += x[n * K + j] * widen(w[i * ldw + j]);
      y[n * ldy + i] = s + (bias ? bias[i] : 0.0f);
    }
}

// Batch rows n0.. (NB of them) against weight rows o.. (R of them, or R / 2 twice when the batch
// group's accumulators would not fit next to R loaded rows).
template <int NB>
static inline void group(const float* x, const uint16_t* w, int64_t ldw, const float* bias, int64_t rows, int64_t K,
                         float* y, int64_t ldy) {
  constexpr int R = CK_BF16_ROWS;
  if (rows == R) {
    if (NB <= 2) return tile<NB, R>(x, w, ldw, bias, K, y, ldy);
    tile<NB, R / 2>(x, w, ldw, bias, K, y, ldy);
    return tile<NB, R / 2>(x, w + (R / 2) * ldw, ldw, bias ? bias + R / 2 : nullptr, K, y + R / 2, ldy);
  }
  for (int64_t i = 0; i < rows; i++) tile<NB, 1>(x, w + i * ldw, ldw, bias ? bias + i : nullptr, K, y + i, ldy);
}

static void rows(const float* x, int64_t N, const uint16_t* w, int64_t ldw, const float* bias, int64_t OC, int64_t K,
                 float* y, int64_t ldy) {
  constexpr int R = CK_BF16_ROWS;
  for (int64_t o = 0; o < OC; o += R) {
    const int64_t r = OC - o < R ? OC - o : R;
    const uint16_t* wo = w + o * ldw;
    const float* bo = bias ? bias + o : nullptr;
    for (int64_t n = 0; n < N; n += 4) {
      const float* xs = x + n * K;
      float* ys = y + n * ldy + o;
      switch (N - n >= 4 ? 4 : N - n) {
        case 1: group<1>(xs, wo, ldw, bo, r, K, ys, ldy); break;
        case 2: group<2>(xs, wo, ldw, bo, r, K, ys, ldy); break;
        case 3: group<3>(xs, wo, ldw, bo, r, K, ys, ldy); break;
        default: group<4>(xs, wo, ldw, bo, r, K, ys, ldy); break;
      }
    }
  }
}
