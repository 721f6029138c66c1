#include "conv_direct.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "activation.h"
#include "conv_direct_isa.h"
#include "gemm.h"
#include "isa.h"

namespace ck::cpu {

namespace {

// 'off' sends every convolution down the im2col + GEMM path (an algorithm choice, not an
// instruction set: isa.h picks between the AVX-512 and portable builds of this one).
std::atomic<bool> gOff{false};

const direct::Kernels& kernels() { return activeAvx512() ? direct::avx512Kernels() : direct::portableKernels(); }

int64_t roundUp16(int64_t n) { return (n + 15) / 16 * 16; }

// A stack of `channels` zero-padded planes with row stride wp, followed by `tail` zeros so that
// the vector loops may read a whole tile past the last valid position.
struct Planes {
  int64_t channels, hp, wp, plane, tail;
  int64_t floats() const { return channels * plane + tail; }
};

// src [channels, h, w] -> dst, placed at (top, left) inside planes of p.hp x p.wp.
void padInto(const direct::Kernels& k, const float* src, int64_t h, int64_t w, int64_t top, int64_t left,
             const Planes& p, float* dst) {
  std::memset(dst, 0, size_t(p.floats()) * sizeof(float));
  for (int64_t c = 0; c < p.channels; c++)
    k.copyRows(src + c * h * w, w, dst + c * p.plane + top * p.wp + left, p.wp, h, w, false);
}

// Offsets of every tap (c, kh, kw) of a kernel inside planes of p: c * plane + kh * wp + kw.
void tapOffsets(const Planes& p, int64_t kh, int64_t kw, int32_t* off) {
  for (int64_t c = 0, t = 0; c < p.channels; c++)
    for (int64_t i = 0; i < kh; i++)
      for (int64_t j = 0; j < kw; j++) off[t++] = int32_t(c * p.plane + i * p.wp + j);
}

// Wide rows [channels, >= oh * wp] -> dense [channels, oh, ow], through the ReLU if relu.
void narrow(const direct::Kernels& k, const float* wide, int64_t ldWide, int64_t channels, int64_t oh, int64_t ow,
            int64_t wp, float* dst, bool relu = false) {
  for (int64_t c = 0; c < channels; c++) k.copyRows(wide + c * ldWide, wp, dst + c * oh * ow, ow, oh, ow, relu);
}

// Splits [0, n) images over the pool in contiguous runs: fn(piece, begin, end).
template <typename Fn>
void overImages(int64_t n, int64_t pieces, Fn fn) {
  threadPool().parallelFor(pieces, [&](int64_t i) {
    const int64_t b = n * i / pieces, e = n * (i + 1) / pieces;
    if (b < e) fn(i, b, e);
  });
}

// A few pieces per thread rather than one: when the machine is shared and a worker is preempted
// holding its piece, the others take over the remaining pieces instead of waiting for it.
int64_t piecesFor(int64_t n) {
  const int64_t threads = threadPool().size();
  return std::max<int64_t>(1, std::min<int64_t>(threads == 1 ? 1 : 4 * threads, n));
}

// The input planes as the forward pass and the filter gradient read them.
Planes inputPlanes(const Conv2dGeom& g) {
  const int64_t hp = g.H + 2 * g.PH, wp = g.W + 2 * g.PW;
  return Planes{g.C, hp, wp, hp * wp, roundUp16(g.OH * wp)};
}

}  // namespace

bool convDirectApplies(const Conv2dGeom& g) {
  if (gOff.load(std::memory_order_relaxed)) return false;
  const int64_t hp = g.H + 2 * g.PH, wp = g.W + 2 * g.PW;
  const int64_t hq = g.OH + 2 * (g.KH - 1 - g.PH);
  // Wide rows waste (wp - OW) / wp of the work: worth it while the rows are not mostly padding.
  return g.groups == 1 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && g.PH < g.KH && g.PW < g.KW &&
         g.Kg() <= 1024 && g.OC <= 256 && g.OC * g.KHW() <= 4096 && hp * wp <= 16384 && hq * wp <= 16384 &&
         g.OW * 2 >= wp && g.OH * g.OW >= 16;
}

void conv2dDirectForward(const float* x, const float* w, const float* bias, const Conv2dGeom& g, float* y, bool relu,
                         bool pool2x2) {
  const direct::Kernels& k = kernels();
  const Planes in = inputPlanes(g);
  const int64_t T = g.Kg(), P = in.tail;
  // The pooled output [OC, OH / 2, OW / 2] per image; its row pairs read 32 floats past a row.
  const int64_t ph = g.OH / 2, pw = g.OW / 2, slack = pool2x2 ? 32 : 0;
  const int64_t yImage = pool2x2 ? g.OC * ph * pw : g.OC * g.OHW();
  Scratch offBuf(size_t(T) * sizeof(int32_t));
  tapOffsets(in, g.KH, g.KW, offBuf.as<int32_t>());
  const int32_t* off = offBuf.as<int32_t>();
  // Rows under 4/5 full (LeNet-5's C3: 10 of 14) take corr16, 16 channels a vector, which
  // computes only the valid positions; its transposed weights are made once per call.
  const bool lanes = g.OC % 16 == 0 && g.OW * 5 < in.wp * 4;
  std::optional<Scratch> wT;
  if (lanes) {
    wT.emplace(size_t(g.OC * T) * sizeof(float));
    for (int64_t o0 = 0; o0 < g.OC; o0 += 16)
      for (int64_t t = 0; t < T; t++)
        for (int64_t l = 0; l < 16; l++) wT->as<float>()[o0 * T + t * 16 + l] = w[(o0 + l) * T + t];
  }
  overImages(g.N, piecesFor(g.N), [&](int64_t, int64_t b, int64_t e) {
    Scratch xin(size_t(in.floats()) * sizeof(float)), wide(size_t(g.OC * P + slack) * sizeof(float));
    // corr16 leaves the thrown-away positions unwritten: zeros, not stale scratch, are pooled there.
    if (lanes) std::memset(wide.as<float>(), 0, size_t(g.OC * P + slack) * sizeof(float));
    for (int64_t n = b; n < e; n++) {
      padInto(k, x + n * g.C * g.HW(), g.H, g.W, g.PH, g.PW, in, xin.as<float>());
      if (lanes)
        for (int64_t o0 = 0; o0 < g.OC; o0 += 16)
          k.corr16(xin.as<float>(), off, T, wT->as<float>() + o0 * T, bias ? bias + o0 : nullptr, g.OH, g.OW, in.wp,
                   wide.as<float>() + o0 * P, P);
      else k.corr(xin.as<float>(), off, T, w, bias, g.OC, P, wide.as<float>(), P);
      float* yn = y + n * yImage;
      if (!pool2x2) narrow(k, wide.as<float>(), P, g.OC, g.OH, g.OW, in.wp, yn, relu);
      else
        for (int64_t c = 0; c < g.OC; c++)
          k.poolRows2x2(wide.as<float>() + c * P, in.wp, ph, pw, yn + c * ph * pw, relu);
    }
  });
}

void conv2dDirectBackward(const float* dy, const float* x, const float* w, const Conv2dGeom& g, float* dx, float* dw,
                          float* db) {
  const direct::Kernels& k = kernels();
  const Planes in = inputPlanes(g);
  const int64_t T = g.Kg(), P = in.tail, khw = g.KHW();
  // dx is the forward loop over dy padded by (K - 1 - P) with the filters flipped and their
  // in/out channels swapped: wf[c][oc][kh][kw] = w[oc][c][KH-1-kh][KW-1-kw]. The padded dy keeps
  // the input's row stride wp = OW + KW - 1, with dy's rows at columns [0, OW): a tap reaching
  // qw columns left of a row wraps into the previous row's last wp - OW >= qw columns, which are
  // zeros, so no left padding is stored and dx's wide rows are wp (not OW + 2 qw) long. A front
  // guard of zeros covers the first row's wrap.
  const int64_t qh = g.KH - 1 - g.PH, qw = g.KW - 1 - g.PW;
  const int64_t hq = g.OH + 2 * qh;
  const Planes dq{g.OC, hq, in.wp, hq * in.wp, roundUp16(g.H * in.wp)};
  const int64_t T2 = g.OC * khw, P2 = dq.tail, guard = roundUp16(qw);

  Scratch offBuf(size_t(T + T2) * sizeof(int32_t));
  int32_t* off = offBuf.as<int32_t>();
  int32_t* off2 = off + T;
  tapOffsets(in, g.KH, g.KW, off);
  tapOffsets(dq, g.KH, g.KW, off2);
  for (int64_t t = 0; t < T2; t++) off2[t] -= int32_t(qw);
  std::optional<Scratch> flipped;
  if (dx) {
    flipped.emplace(size_t(g.C * T2) * sizeof(float));
    float* wf = flipped->as<float>();
    for (int64_t c = 0; c < g.C; c++)
      for (int64_t o = 0; o < g.OC; o++)
        for (int64_t i = 0; i < g.KH; i++)
          for (int64_t j = 0; j < g.KW; j++)
            wf[c * T2 + o * khw + i * g.KW + j] = w[(o * g.C + c) * khw + (g.KH - 1 - i) * g.KW + (g.KW - 1 - j)];
  }

  // Per piece: dw partial sums [OC * T], then db's [OC] (in double, as the general path's).
  const int64_t pieces = piecesFor(g.N), dwSize = g.OC * T;
  Scratch partial(size_t(pieces * dwSize) * sizeof(float)), dbPartial(size_t(pieces * g.OC) * sizeof(double));
  std::memset(partial.as<float>(), 0, size_t(pieces * dwSize) * sizeof(float));
  std::memset(dbPartial.as<double>(), 0, size_t(pieces * g.OC) * sizeof(double));
  overImages(g.N, pieces, [&](int64_t piece, int64_t b, int64_t e) {
    Scratch xin(size_t(in.floats()) * sizeof(float)), dyw(size_t(g.OC * P) * sizeof(float));
    std::optional<Scratch> dyq, wide;
    if (dx) {
      dyq.emplace(size_t(guard + dq.floats()) * sizeof(float));
      std::memset(dyq->as<float>(), 0, size_t(guard) * sizeof(float));
      wide.emplace(size_t(g.C * P2) * sizeof(float));
    }
    // The wide dy is zero at the thrown-away positions (ow >= OW, and past OH rows), so those
    // contribute nothing to the filter gradient.
    std::memset(dyw.as<float>(), 0, size_t(g.OC * P) * sizeof(float));
    Scratch lanes(size_t(dwSize * 16) * sizeof(float));  // 16 partial sums per weight
    std::memset(lanes.as<float>(), 0, size_t(dwSize * 16) * sizeof(float));
    float* acc = lanes.as<float>();
    double* dbAcc = dbPartial.as<double>() + piece * g.OC;
    for (int64_t n = b; n < e; n++) {
      const float* dyn = dy + n * g.OC * g.OHW();
      padInto(k, x + n * g.C * g.HW(), g.H, g.W, g.PH, g.PW, in, xin.as<float>());
      for (int64_t o = 0; o < g.OC; o++) {
        float sum = 0;  // a float run per image plane, then double across images
        for (int64_t r = 0; r < g.OH; r++) {
          const float* src = dyn + (o * g.OH + r) * g.OW;
          float* dst = dyw.as<float>() + o * P + r * in.wp;
          for (int64_t c = 0; c < g.OW; c++) {
            dst[c] = src[c];
            sum += src[c];
          }
        }
        dbAcc[o] += sum;
      }
      k.corrGrad(dyw.as<float>(), P, xin.as<float>(), off, T, g.OC, P, acc);
      if (dx) {
        float* dyp = dyq->as<float>() + guard;
        padInto(k, dyn, g.OH, g.OW, qh, 0, dq, dyp);
        k.corr(dyp, off2, T2, flipped->as<float>(), nullptr, g.C, P2, wide->as<float>(), P2);
        narrow(k, wide->as<float>(), P2, g.C, g.H, g.W, in.wp, dx + n * g.C * g.HW());
      }
    }
    k.sumLanes(acc, dwSize, partial.as<float>() + piece * dwSize);
  });
  // Partial sums are added in piece order, so the result does not depend on thread timing.
  const float* part = partial.as<float>();
  for (int64_t i = 0; i < dwSize; i++) {
    float s = 0;
    for (int64_t p = 0; p < pieces; p++) s += part[p * dwSize + i];
    dw[i] = s;
  }
  if (db)
    for (int64_t o = 0; o < g.OC; o++) {
      double s = 0;
      for (int64_t p = 0; p < pieces; p++) s += dbPartial.as<double>()[p * g.OC + o];
      db[o] = float(s);
    }
}

bool convFullKernelApplies(const Conv2dGeom& g) {
  return !gOff.load(std::memory_order_relaxed) && g.groups == 1 && g.OH == 1 && g.OW == 1 && g.PH == 0 && g.PW == 0 &&
         g.DH == 1 && g.DW == 1 && g.KH == g.H && g.KW == g.W;
}

void smallBatchLinear(const float* x, const float* w, const float* bias, int64_t N, int64_t K, int64_t OC, float* y) {
  const direct::Kernels& k = kernels();
  // Rows of w are split across the pool (each row's sums are the same whichever thread takes it);
  // a piece is at least ~256k multiply-adds, so LeNet-5's small layers stay on one thread.
  const int64_t grain = std::max<int64_t>(4, ((int64_t(1) << 18) / std::max<int64_t>(1, K * N) + 3) / 4 * 4);
  parallelRange(OC, grain, [&](int64_t o0, int64_t o1) {
    k.gemv(x, N, w + o0 * K, bias ? bias + o0 : nullptr, o1 - o0, K, y + o0, OC);
  });
}

// y [N, OC] = x [N, K] * w [OC, K]^T + bias.
void conv2dFullKernelForward(const float* x, const float* w, const float* bias, const Conv2dGeom& g, float* y,
                             bool relu) {
  const int64_t K = g.Kg();
  if (g.N <= kSmallBatch) smallBatchLinear(x, w, bias, g.N, K, g.OC, y);
  else sgemm(false, true, g.N, g.OC, K, 1.0f, x, K, w, K, 0.0f, y, g.OC);
  const bool addBias = bias && g.N > kSmallBatch;  // smallBatchLinear added it
  if (!addBias && !relu) return;
  // Bias and ReLU in one pass over y [N, OC]; the ReLU of v + 0, as the separate pass took it.
  for (int64_t n = 0; n < g.N; n++) {
    float* row = y + n * g.OC;
    for (int64_t o = 0; o < g.OC; o++) {
      const float v = addBias ? row[o] + bias[o] : row[o];
      row[o] = relu ? reluOf(v + 0.0f) : v;
    }
  }
}

void conv2dFullKernelBackward(const float* dy, const float* x, const float* w, const Conv2dGeom& g, float* dx,
                              float* dw) {
  const int64_t K = g.Kg();
  sgemm(true, false, g.OC, K, g.N, 1.0f, dy, g.OC, x, K, 0.0f, dw, K);
  if (dx) sgemm(false, false, g.N, K, g.OC, 1.0f, dy, g.OC, w, K, 0.0f, dx, K);
}

std::string convFastPathSet(const std::string& name) {
  if (name == "auto") gOff = false;
  else if (name == "off") gOff = true;
  else return "unknown setting '" + name + "' (expected auto or off; the instruction set is chosen by setIsa)";
  return "";
}

const char* convFastPathName() { return gOff.load() ? "off" : kernels().name; }

}  // namespace ck::cpu
