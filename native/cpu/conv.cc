// Convolution as im2col + one SGEMM per group, over chunks of the batch.
//
// A chunk of B images lays its columns side by side, [Kg, B*OH*OW] per group, so that a GEMM
// stays wide when OH*OW is small (AlexNet's 13x13 layers): every SGEMM call repacks its weight
// operand, which costs most when the product is narrow. The scratch a call holds is bounded
// (a per-thread chunk target, and the convScratchBytes cap), so memory does not grow with the
// batch. With B > 1 the GEMM's output is [OCg, B*OH*OW] and is scattered into NCHW (the bias is
// added in that same pass); with B == 1 the GEMMs read and write the tensors in place, and a
// pointwise conv skips im2col entirely. Small stride-1 convolutions and kernels that cover the
// whole input (LeNet-5's) take the fast paths of conv_direct.h instead, chosen by shape.
#include "conv.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <optional>
#include <vector>

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "activation.h"
#include "conv_direct.h"
#include "gemm.h"
#include "im2col.h"
#include "im2col_panels.h"
#include "pool.h"

namespace ck::cpu {

namespace {

std::atomic<int64_t> scratchCap{kDefaultConvScratchBytes};

// Elements below which a parallel loop is not worth waking the pool.
constexpr int64_t kGrainElements = 1 << 14;

int64_t rowGrain(int64_t rowLength) { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, rowLength)); }

// Scratch a chunk aims for, per pool thread. Chunks far larger than the caches run slower (on a
// 2-core Xeon with 2 MB of L2 per core, AlexNet conv1-5 forward + backward at batch 32 took about
// 10% more CPU time with 64 MB chunks than with 4 to 8 MB ones), while much smaller chunks make
// the GEMMs too narrow to split between threads.
constexpr int64_t kChunkBytesPerThread = int64_t(4) << 20;

// Images per chunk: as many as the chunk target and the scratch cap allow (at least one),
// spread evenly over the chunks so that the last one is not a sliver. A chunk holds an
// [OCg, B*OH*OW] buffer (the forward's output before the scatter, the backward's gathered dy)
// and, with `columns`, a [Kg, B*OH*OW] column buffer: the backward always, the forward only when
// it does not pack its columns straight into the GEMM's panels (forwardImagesPerChunk).
int64_t imagesPerChunk(const Conv2dGeom& g, bool columns) {
  const int64_t floatsPerImage = ((columns ? g.Kg() : 0) + g.OCg()) * g.OHW();
  const int64_t budget = std::min(convScratchBytes(), kChunkBytesPerThread * threadPool().size());
  const int64_t fit = std::max<int64_t>(1, budget / std::max<int64_t>(1, floatsPerImage * 4));
  const int64_t b = std::min(g.N, fit);
  const int64_t chunks = (g.N + b - 1) / b;
  return (g.N + chunks - 1) / chunks;
}

// The forward packing columns into panels holds no column buffer, so its chunks are wider: at
// batch 32 AlexNet's 13x13 layers run as one GEMM of 5,408 columns instead of eight of 676 (each
// a barrier, a scatter and short tasks), conv3 46.5-47.8 -> 44.3-45.1 ms, conv4 35.3-35.9 ->
// 34.4-34.9 (two runs each, bit-identical: a chunk decides only which GEMM a column is in).
int64_t forwardImagesPerChunk(const Conv2dGeom& g) {
  if (convPackedColumns()) {
    const int64_t b = imagesPerChunk(g, false);
    if (b * g.C * g.HW() < INT32_MAX) return b;  // the packer's 32-bit offsets reach the chunk
  }
  return imagesPerChunk(g, true);
}

// out = w * mask, the mask [OC, C/groups] broadcast over each filter's KH*KW taps (out may be w).
void maskWeight(const float* w, const float* mask, const Conv2dGeom& g, float* out) {
  const int64_t khw = g.KHW();
  parallelRange(g.OC * g.Cg(), rowGrain(khw), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float m = mask[r];
      for (int64_t k = 0; k < khw; k++) out[r * khw + k] = w[r * khw + k] * m;
    }
  });
}

// Rows of one group of images [n0, n0+images) in an NCHW tensor with `channels` channels:
// row (i, o) of the packed [rows, images*OH*OW] matrix is image n0+i, channel c0+o.
struct GroupRows {
  int64_t n0, images, c0, rows, channels;
};

// NCHW rows -> packed [rows, images*plane] matrix.
void gatherRows(const float* src, const GroupRows& r, int64_t plane, float* packed) {
  const int64_t ld = r.images * plane;
  parallelRange(r.images * r.rows, rowGrain(plane), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t i = t / r.rows, o = t % r.rows;
      std::memcpy(packed + o * ld + i * plane, src + ((r.n0 + i) * r.channels + r.c0 + o) * plane,
                  size_t(plane) * sizeof(float));
    }
  });
}

// Packed [rows, images*plane] matrix -> NCHW rows, adding bias[o] to row o when bias is given,
// then the ReLU when relu is set.
void scatterRows(const float* packed, const float* bias, const GroupRows& r, int64_t plane, float* dst,
                 bool relu = false) {
  const int64_t ld = r.images * plane;
  parallelRange(r.images * r.rows, rowGrain(plane), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const int64_t i = t / r.rows, o = t % r.rows;
      const float* s = packed + o * ld + i * plane;
      float* d = dst + ((r.n0 + i) * r.channels + r.c0 + o) * plane;
      const float b = bias ? bias[o] : 0.0f;
      if (relu)
        for (int64_t p = 0; p < plane; p++) d[p] = reluOf(s[p] + b);
      else if (bias)
        for (int64_t p = 0; p < plane; p++) d[p] = s[p] + b;
      else std::memcpy(d, s, size_t(plane) * sizeof(float));
    }
  });
}

// y[o] += bias[o] (bias may be null), then the ReLU when relu is set; nothing to do for neither.
void addBiasRows(float* y, const float* bias, int64_t rows, int64_t plane, bool relu = false) {
  if (!bias && !relu) return;
  parallelRange(rows, rowGrain(plane), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; o++) {
      const float b = bias ? bias[o] : 0.0f;
      float* row = y + o * plane;
      if (relu)
        for (int64_t p = 0; p < plane; p++) row[p] = reluOf(row[p] + b);
      else
        for (int64_t p = 0; p < plane; p++) row[p] += b;
    }
  });
}

void zeroImages(float* x, const Conv2dGeom& g, int64_t n0, int64_t images) {
  const int64_t plane = g.HW();
  parallelRange(images * g.C, rowGrain(plane), [&](int64_t begin, int64_t end) {
    std::memset(x + (n0 * g.C + begin) * plane, 0, size_t((end - begin) * plane) * sizeof(float));
  });
}

// Sum of one output plane's gradient: 16 interleaved float partial sums, which the compiler keeps
// in vector registers, then added in double. One running float sum (as this was) waits on the
// add's latency for every element: AlexNet's bias gradients took 2% of a b64 step at 5 GB/s.
inline double planeSum(const float* row, int64_t n) {
  constexpr int kLanes = 16;
  float part[kLanes] = {};
  int64_t p = 0;
  for (; p + kLanes <= n; p += kLanes)
    for (int l = 0; l < kLanes; l++) part[l] += row[p + l];
  double s = 0;
  for (int l = 0; l < kLanes; l++) s += part[l];
  for (; p < n; p++) s += row[p];
  return s;
}

// db[oc] = sum of dy over images and positions, accumulated in double.
void biasGrad(const float* dy, const Conv2dGeom& g, float* db) {
  const int64_t plane = g.OHW();
  parallelRange(g.OC, rowGrain(g.N * plane), [&](int64_t begin, int64_t end) {
    for (int64_t oc = begin; oc < end; oc++) {
      double s = 0;
      for (int64_t n = 0; n < g.N; n++) s += planeSum(dy + (n * g.OC + oc) * plane, plane);
      db[oc] = float(s);
    }
  });
}

}  // namespace

int64_t setConvScratchBytes(int64_t bytes) { return scratchCap.exchange(std::max<int64_t>(1, bytes)); }
int64_t convScratchBytes() { return scratchCap.load(); }

int64_t conv2dImagesPerChunk(const Conv2dGeom& g, bool forward) {
  return forward ? forwardImagesPerChunk(g) : imagesPerChunk(g, true);
}

namespace {

// Each group's weights W_g [OCg, Kg] (or W_g^T, transposed) in A panels.
std::vector<PackedA> packGroupWeights(const float* w, const Conv2dGeom& g, bool transposed) {
  const int64_t Kg = g.Kg(), OCg = g.OCg();
  std::vector<PackedA> out;
  out.reserve(size_t(g.groups));
  for (int64_t gi = 0; gi < g.groups; gi++) {
    const float* wg = w + gi * OCg * Kg;
    if (transposed) out.emplace_back(true, Kg, OCg, wg, Kg);
    else out.emplace_back(false, OCg, Kg, wg, Kg);
  }
  return out;
}

// pool2x2: y is the 2x2 / 2 max pool of the output (conv2dForwardMaxPool2x2), which the direct
// path takes from its wide rows; the other paths write the output to scratch and pool that.
void forward(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g, float* y,
             bool relu, bool pool2x2 = false) {
  if (g.N == 0) return;
  const int64_t OHW = g.OHW(), HW = g.HW(), Kg = g.Kg(), OCg = g.OCg(), Cg = g.Cg();
  const bool fullKernel = convFullKernelApplies(g), directConv = !fullKernel && convDirectApplies(g);
  if (pool2x2 && !directConv) {
    Scratch full(size_t(g.N * g.OC * OHW) * sizeof(float));
    forward(x, w, bias, mask, g, full.as<float>(), relu);
    const Pool2dGeom p{g.N, g.OC, g.OH, g.OW, 2, 2, 2, 2, 0, 0, g.OH / 2, g.OW / 2, false};
    return maxPool2dForward(full.as<float>(), p, y, nullptr);  // values only: no argmax is kept
  }

  std::optional<Scratch> masked;
  const float* wm = w;
  if (mask) {
    masked.emplace(size_t(g.OC * Kg) * sizeof(float));
    maskWeight(w, mask, g, masked->as<float>());
    wm = masked->as<float>();
  }
  // The fast paths apply the ReLU in a pass they make anyway (the copy out of the wide rows, the
  // bias).
  if (directConv) return conv2dDirectForward(x, wm, bias, g, y, relu, pool2x2);
  if (fullKernel) return conv2dFullKernelForward(x, wm, bias, g, y, relu);

  const int64_t B = forwardImagesPerChunk(g);
  const bool direct = B == 1;                      // GEMMs write y in place
  const bool noColumns = direct && g.pointwise();  // and read x in place
  // Columns packed straight into the GEMM's panels (im2col_panels.h) unless switched off, or the
  // chunk spans more floats than its 32-bit gather indices reach.
  const bool packed = !noColumns && convPackedColumns() && B * g.C * HW < INT32_MAX;
  std::optional<Scratch> cols, out;
  if (!noColumns && !packed) cols.emplace(size_t(Kg * B * OHW) * sizeof(float));
  if (!direct) out.emplace(size_t(OCg * B * OHW) * sizeof(float));

  // Each group's weights are packed into A panels once, not once per chunk of images.
  const std::vector<PackedA> wPacked = packGroupWeights(wm, g, false);
  for (int64_t n0 = 0; n0 < g.N; n0 += B) {
    const int64_t nb = std::min(B, g.N - n0), ld = nb * OHW;
    for (int64_t gi = 0; gi < g.groups; gi++) {
      const ColumnBlock block{n0, nb, gi * Cg, Cg, ld, OHW};
      const PackedA& wg = wPacked[size_t(gi)];
      const float* bg = bias ? bias + gi * OCg : nullptr;
      float* dst = direct ? y + (n0 * g.OC + gi * OCg) * OHW : out->as<float>();
      if (packed) {
        sgemmPackedB(
            wg, ld,
            [&](int64_t k0, int64_t kc, int64_t c0, int64_t n, int nr, float* panels, int64_t stride) {
              im2colPanels(x, g, block, k0, kc, c0, n, nr, panels, stride);
            },
            0.0f, dst, ld);
      } else {
        const float* colp = noColumns ? x + (n0 * g.C + gi * Cg) * HW : cols->as<float>();
        const int64_t ldCol = noColumns ? HW : ld;
        if (!noColumns) im2colBlock(x, g, block, cols->as<float>());
        sgemm(wg, false, ld, colp, ldCol, 0.0f, dst, ld);
      }
      if (direct) addBiasRows(dst, bg, OCg, OHW, relu);
      else scatterRows(dst, bg, GroupRows{n0, nb, gi * OCg, OCg, g.OC}, OHW, y, relu);
    }
  }
}

}  // namespace

void conv2dForward(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                   float* y) {
  forward(x, w, bias, mask, g, y, false);
}

void conv2dForwardRelu(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                       float* y) {
  forward(x, w, bias, mask, g, y, true);
}

void conv2dForwardMaxPool2x2(const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                             bool relu, float* y) {
  forward(x, w, bias, mask, g, y, relu, true);
}

void conv2dBackward(const float* dy, const float* x, const float* w, const float* mask, const Conv2dGeom& g, float* dx,
                    float* dw, float* db, bool reluInput) {
  const int64_t OHW = g.OHW(), HW = g.HW(), Kg = g.Kg(), OCg = g.OCg(), Cg = g.Cg();
  // The paths whose dx has no pass of its own to fold the ReLU into take it as one more pass.
  auto reluPass = [&] {
    if (reluInput && dx) reluBackward(dx, x, dx, g.N * g.C * HW);
  };
  const bool full = g.N > 0 && convFullKernelApplies(g), directConv = g.N > 0 && !full && convDirectApplies(g);
  if (db && !directConv) biasGrad(dy, g, db);
  if (g.N == 0) {
    std::memset(dw, 0, size_t(g.OC * Kg) * sizeof(float));
    return;
  }

  std::optional<Scratch> masked;
  const float* wm = w;
  if (mask && dx) {
    masked.emplace(size_t(g.OC * Kg) * sizeof(float));
    maskWeight(w, mask, g, masked->as<float>());
    wm = masked->as<float>();
  }
  if (full || directConv) {
    if (full) conv2dFullKernelBackward(dy, x, wm, g, dx, dw);
    else conv2dDirectBackward(dy, x, wm, g, dx, dw, db);
    if (mask) maskWeight(dw, mask, g, dw);
    reluPass();
    return;
  }

  const int64_t B = imagesPerChunk(g, true);
  const bool direct = B == 1;                      // GEMMs read dy in place
  const bool noColumns = direct && g.pointwise();  // and x and dx too
  // The filter gradient's columns are packed straight into its GEMM's panels (as in the
  // forward), so the column buffer is needed only for the input gradient's columns.
  const bool packed = !noColumns && convPackedColumns() && B * g.C * HW < INT32_MAX;
  std::optional<Scratch> cols, dyPacked;
  if (!noColumns && (dx || !packed)) cols.emplace(size_t(Kg * B * OHW) * sizeof(float));
  if (!direct) dyPacked.emplace(size_t(OCg * B * OHW) * sizeof(float));

  // W_g^T for the input gradient, packed once for all chunks.
  const std::vector<PackedA> wtPacked = dx ? packGroupWeights(wm, g, true) : std::vector<PackedA>();
  for (int64_t n0 = 0; n0 < g.N; n0 += B) {
    const int64_t nb = std::min(B, g.N - n0), ld = nb * OHW;
    if (dx && !noColumns) zeroImages(dx, g, n0, nb);  // col2im adds
    for (int64_t gi = 0; gi < g.groups; gi++) {
      const float* dyg = dy + (n0 * g.OC + gi * OCg) * OHW;
      int64_t ldDy = OHW;
      if (!direct) {
        gatherRows(dy, GroupRows{n0, nb, gi * OCg, OCg, g.OC}, OHW, dyPacked->as<float>());
        dyg = dyPacked->as<float>();
        ldDy = ld;
      }
      const ColumnBlock block{n0, nb, gi * Cg, Cg, ld, OHW};
      float* dwg = dw + gi * OCg * Kg;
      const float beta = n0 == 0 ? 0.0f : 1.0f;

      // dW_g [OCg, Kg] (+)= dY_g [OCg, nb*OHW] * cols^T, summed over chunks.
      if (packed) {
        sgemmPackedB(
            OCg, Kg, ld, dyg, ldDy,
            [&](int64_t k0, int64_t kc, int64_t c0, int64_t n, int nr, float* panels, int64_t stride) {
              im2colPanelsTransposed(x, g, block, k0, kc, c0, n, nr, panels, stride);
            },
            beta, dwg, Kg);
      } else {
        const float* colp = noColumns ? x + (n0 * g.C + gi * Cg) * HW : cols->as<float>();
        const int64_t ldCol = noColumns ? HW : ld;
        if (!noColumns) im2colBlock(x, g, block, cols->as<float>());
        sgemm(false, true, OCg, Kg, ld, 1.0f, dyg, ldDy, colp, ldCol, beta, dwg, Kg);
      }

      if (dx) {
        // dcols [Kg, nb*OHW] = W_g^T * dY_g, then back onto the image.
        const PackedA& wt = wtPacked[size_t(gi)];
        if (noColumns) {
          sgemm(wt, false, OHW, dyg, ldDy, 0.0f, dx + (n0 * g.C + gi * Cg) * HW, HW);
        } else {
          sgemm(wt, false, ld, dyg, ldDy, 0.0f, cols->as<float>(), ld);
          col2imBlock(cols->as<float>(), g, block, dx, reluInput ? x : nullptr);
        }
      }
    }
  }
  if (mask) maskWeight(dw, mask, g, dw);
  if (noColumns) reluPass();  // the GEMM wrote dx itself
}

}  // namespace ck::cpu
