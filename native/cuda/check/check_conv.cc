// The GEMM-shaped families: im2col/col2im, sgemm, conv2d, linear.
#include <cmath>
#include <limits>

#include "../../cpu/conv.h"
#include "../../cpu/gemm.h"
#include "../../cpu/im2col.h"
#include "../../cpu/linear.h"
#include "../conv.h"
#include "../gemm.h"
#include "../im2col.h"
#include "../linear.h"
#include "checks.h"
#include "harness.h"

namespace ck::check {

namespace {

using cuda::Ctx;

cpu::Conv2dGeom geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t KH, int64_t KW, int64_t SH,
                     int64_t SW, int64_t PH, int64_t PW, int64_t DH, int64_t DW, int64_t groups) {
  cpu::Conv2dGeom g{};
  g.N = N, g.C = C, g.H = H, g.W = W, g.OC = OC, g.KH = KH, g.KW = KW;
  g.SH = SH, g.SW = SW, g.PH = PH, g.PW = PW, g.DH = DH, g.DW = DW, g.groups = groups;
  g.OH = cpu::convOutputSize(H, KH, SH, PH, DH);
  g.OW = cpu::convOutputSize(W, KW, SW, PW, DW);
  return g;
}

std::string describe(const cpu::Conv2dGeom& g) {
  char b[256];
  std::snprintf(b, sizeof b, "x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,%lld] s%lldx%lld p%lldx%lld d%lldx%lld g%lld",
                (long long)g.N, (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.OC, (long long)g.Cg(),
                (long long)g.KH, (long long)g.KW, (long long)g.SH, (long long)g.SW, (long long)g.PH, (long long)g.PW,
                (long long)g.DH, (long long)g.DW, (long long)g.groups);
  return b;
}

std::vector<cpu::Conv2dGeom> geometries() {
  return {
      geom(2, 1, 7, 5, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1),     // C = 1, unpadded
      geom(3, 5, 11, 9, 7, 3, 2, 2, 1, 1, 0, 1, 2, 1),    // rectangular kernel, stride, padding, dilation
      geom(2, 4, 13, 13, 6, 5, 5, 1, 1, 2, 2, 1, 1, 2),   // two groups (AlexNet's towers)
      geom(2, 3, 9, 10, 4, 2, 2, 3, 3, 0, 1, 1, 1, 1),    // stride > kernel
      geom(3, 6, 5, 7, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1),     // pointwise 1x1
      geom(1, 3, 19, 17, 5, 11, 11, 4, 4, 2, 2, 1, 1, 1)  // AlexNet conv1-like
  };
}

void im2colChecks(Ctx& ctx) {
  for (const auto& g : geometries()) {
    size_t xs = sz(g.N * g.C * g.HW()), cs = sz(g.N * g.C * g.KHW() * g.OHW());
    auto x = randomVec(xs, 21);
    std::vector<float> cols(cs);
    cpu::im2col(x.data(), g, cols.data());
    DevBuf<float> dX(x), dCols(cs);
    cuda::im2col(ctx, dX, g, dCols);
    ctx.synchronize();
    compare("im2col", describe(g), cols, dCols.download(), kExact);

    // A block: the second image onward, one group's channels, rows strided over the images.
    if (g.N > 1) {
      cpu::ColumnBlock b{1, g.N - 1, g.Cg() * (g.groups - 1), g.Cg(), (g.N - 1) * g.OHW(), g.OHW()};
      size_t bs = sz(b.channels * g.KHW() * b.rowStride);
      std::vector<float> bc(bs, 0.f);
      cpu::im2colBlock(x.data(), g, b, bc.data());
      DevBuf<float> dBc(bc);
      cuda::im2colBlock(ctx, dX, g, b, dBc);
      ctx.synchronize();
      compare("im2colBlock", describe(g), bc, dBc.download(), kExact);
    }

    auto c2 = randomVec(cs, 22);
    auto base = randomVec(xs, 23);
    std::vector<float> xi = base;
    cpu::col2im(c2.data(), g, xi.data());
    DevBuf<float> dC2(c2), dXi(base);
    cuda::col2im(ctx, dC2, g, dXi);
    ctx.synchronize();
    compare("col2im", describe(g), xi, dXi.download(), kReduction);
  }
}

void gemmChecks(Ctx& ctx) {
  const int64_t M = 37, N = 29, K = 53;
  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    auto A = randomVec(sz((ta ? K : M) * lda), 31), B = randomVec(sz((tb ? N : K) * ldb), 32);
    auto C0 = randomVec(sz(M * ldc), 33);
    std::vector<float> C = C0;
    cpu::sgemm(ta, tb, M, N, K, 0.75f, A.data(), lda, B.data(), ldb, -0.5f, C.data(), ldc);
    DevBuf<float> dA(A), dB(B), dC(C0);
    cuda::sgemm(ctx, ta, tb, M, N, K, 0.75f, dA, lda, dB, ldb, -0.5f, dC, ldc);
    ctx.synchronize();
    compare("sgemm", std::string("M37 N29 K53 ") + (ta ? "T" : "N") + (tb ? "T" : "N") + " padded ld", C, dC.download(),
            kGemm);
  }
  {
    // beta == 0 must ignore NaN in C; K == 0 leaves beta*C.
    std::vector<float> C(sz(5 * 6), std::numeric_limits<float>::quiet_NaN()), A(1, 1.f), B(1, 1.f);
    std::vector<float> expect(C.size(), 0.f);
    DevBuf<float> dC(C), dA(A), dB(B);
    cuda::sgemm(ctx, false, false, 5, 6, 0, 1.f, dA, 1, dB, 6, 0.f, dC, 6);
    ctx.synchronize();
    compare("sgemmK0Beta0", "M5 N6 K0, C = NaN", expect, dC.download(), kExact);
  }
  {
    const int64_t batch = 5, m = 13, n = 17, k = 11;
    auto A = randomVec(sz(batch * m * k), 34), B = randomVec(sz(batch * k * n), 35);
    std::vector<float> C(sz(batch * m * n));
    cpu::sgemmStridedBatched(false, true, m, n, k, 1.f, A.data(), k, m * k, B.data(), k, k * n, 0.f, C.data(), n, m * n,
                             batch);
    DevBuf<float> dA(A), dB(B), dC(C.size());
    cuda::sgemmStridedBatched(ctx, false, true, m, n, k, 1.f, dA, k, m * k, dB, k, k * n, 0.f, dC, n, m * n, batch);
    ctx.synchronize();
    compare("sgemmStridedBatched", "5 x M13 N17 K11 NT", C, dC.download(), kGemm);
  }
}

void convChecks(Ctx& ctx) {
  for (const auto& g : geometries()) {
    for (int variant = 0; variant < 3; variant++) {
      // 0: plain; 1: with a connection mask; 2: one image per chunk (the batch is cut in pieces).
      bool masked = variant == 1;
      if (variant == 2 && g.N < 2) continue;
      int64_t oldCap = cuda::setConvScratchBytes(variant == 2 ? 1 : cuda::kDefaultConvScratchBytes);
      size_t xs = sz(g.N * g.C * g.HW()), ws = sz(g.OC * g.Kg()), ys = sz(g.N * g.OC * g.OHW());
      auto x = randomVec(xs, 41), w = randomVec(ws, 42), bias = randomVec(sz(g.OC), 43), dy = randomVec(ys, 44);
      std::vector<float> mask(sz(g.OC * g.Cg()));
      for (size_t i = 0; i < mask.size(); i++) mask[i] = float((i * 7 + 3) % 3 != 0);
      const float* maskp = masked ? mask.data() : nullptr;
      std::vector<float> y(ys), yRelu(ys), dx(xs), dw(ws), db(sz(g.OC));
      cpu::conv2dForward(x.data(), w.data(), bias.data(), maskp, g, y.data());
      cpu::conv2dForwardRelu(x.data(), w.data(), bias.data(), maskp, g, yRelu.data());
      cpu::conv2dBackward(dy.data(), x.data(), w.data(), maskp, g, dx.data(), dw.data(), db.data());
      DevBuf<float> dX(x), dW(w), dBias(bias), dMask(mask), dY(ys), dYRelu(ys), dDy(dy), dDx(xs), dDw(ws),
          dDb(sz(g.OC));
      float* dMaskp = masked ? dMask.get() : nullptr;
      cuda::conv2dForward(ctx, dX, dW, dBias, dMaskp, g, dY);
      cuda::conv2dForwardRelu(ctx, dX, dW, dBias, dMaskp, g, dYRelu);
      cuda::conv2dBackward(ctx, dDy, dX, dW, dMaskp, g, dDx, dDw, dDb);
      ctx.synchronize();
      cuda::setConvScratchBytes(oldCap);
      std::string s = describe(g) + (masked ? " masked" : variant == 2 ? " chunked" : "");
      compare("conv2dForward", s, y, dY.download(), kGemm);
      compare("conv2dForwardRelu", s, yRelu, dYRelu.download(), kGemm);
      compare("conv2dBackward.dx", s, dx, dDx.download(), kGemm);
      compare("conv2dBackward.dw", s, dw, dDw.download(), kGemm);
      compare("conv2dBackward.db", s, db, dDb.download(), kReduction);
    }
  }
}

void linearChecks(Ctx& ctx) {
  const int64_t N = 7, in = 45, out = 10;
  auto x = randomVec(sz(N * in), 51), w = randomVec(sz(out * in), 52), b = randomVec(sz(out), 53);
  auto dy = randomVec(sz(N * out), 54), dw0 = randomVec(sz(out * in), 55), db0 = randomVec(sz(out), 56);
  std::vector<float> y(sz(N * out)), dx(sz(N * in)), dw = dw0, db = db0;
  cpu::linearForward(x.data(), w.data(), b.data(), y.data(), N, in, out);
  cpu::linearBackwardData(dy.data(), w.data(), dx.data(), N, in, out);
  cpu::linearBackwardWeight(dy.data(), x.data(), dw.data(), N, in, out, 1.f);
  cpu::linearBackwardBias(dy.data(), db.data(), N, out, 1.f);
  DevBuf<float> dX(x), dW(w), dB(b), dY(y.size()), dDy(dy), dDx(dx.size()), dDw(dw0), dDb(db0);
  cuda::linearForward(ctx, dX, dW, dB, dY, N, in, out);
  cuda::linearBackwardData(ctx, dDy, dW, dDx, N, in, out);
  cuda::linearBackwardWeight(ctx, dDy, dX, dDw, N, in, out, 1.f);
  cuda::linearBackwardBias(ctx, dDy, dDb, N, out, 1.f);
  ctx.synchronize();
  compare("linearForward", "x[7,45] w[10,45]", y, dY.download(), kGemm);
  compare("linearBackwardData", "x[7,45] w[10,45]", dx, dDx.download(), kGemm);
  compare("linearBackwardWeight", "x[7,45] w[10,45] beta 1", dw, dDw.download(), kGemm);
  compare("linearBackwardBias", "x[7,45] w[10,45] beta 1", db, dDb.download(), kReduction);
}

}  // namespace

void checkConvFamily(Ctx& ctx) {
  im2colChecks(ctx);
  gemmChecks(ctx);
  convChecks(ctx);
  linearChecks(ctx);
}

}  // namespace ck::check
