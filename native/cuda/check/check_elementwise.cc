// Elementwise-shaped families: every output element depends on a few inputs.
#include "../../cpu/activation.h"
#include "../../cpu/channel_affine.h"
#include "../../cpu/dropout.h"
#include "../../cpu/elementwise.h"
#include "../../cpu/optim.h"
#include "../activation.h"
#include "../channel_affine.h"
#include "../dropout.h"
#include "../elementwise.h"
#include "../optim.h"
#include "checks.h"
#include "harness.h"

namespace ck::check {

namespace {

using cuda::Ctx;
using Unary = void (*)(const float*, float*, int64_t);
using UnaryDev = void (*)(Ctx&, const float*, float*, int64_t);
using Back = void (*)(const float*, const float*, float*, int64_t);
using BackDev = void (*)(Ctx&, const float*, const float*, float*, int64_t);

void activation(Ctx& ctx, const char* name, Unary f, UnaryDev fd, Back b, BackDev bd, int64_t n) {
  auto x = randomVec(sz(n), 11, -3, 3), dy = randomVec(sz(n), 12);
  x[0] = 0.f;  // relu's subgradient at 0
  std::vector<float> y(sz(n)), dx(sz(n));
  f(x.data(), y.data(), n);
  b(dy.data(), y.data(), dx.data(), n);
  DevBuf<float> dX(x), dY(sz(n)), dDy(dy), dDx(sz(n));
  fd(ctx, dX, dY, n);
  bd(ctx, dDy, dY, dDx, n);
  ctx.synchronize();
  std::string shape = "[" + std::to_string(n) + "]";
  compare(std::string(name) + "Forward", shape, y, dY.download(), kElementwise);
  compare(std::string(name) + "Backward", shape, dx, dDx.download(), kElementwise);
}

void elementwise(Ctx& ctx) {
  const int64_t n = 1000003;  // not a multiple of any block size
  const std::string shape = "[1000003]";
  auto a = randomVec(sz(n), 1), b = randomVec(sz(n), 2);
  DevBuf<float> dA(a), dB(b), dY(sz(n));
  std::vector<float> y(sz(n));

  cpu::axpby(a.data(), (y = b).data(), n, 0.7f, -1.3f);
  dY.upload(b);
  cuda::axpby(ctx, dA, dY, n, 0.7f, -1.3f);
  ctx.synchronize();
  compare("axpby", shape, y, dY.download(), kElementwise);

  cpu::add(a.data(), b.data(), y.data(), n);
  cuda::add(ctx, dA, dB, dY, n);
  ctx.synchronize();
  compare("add", shape, y, dY.download(), kExact);

  cpu::mul(a.data(), b.data(), y.data(), n);
  cuda::mul(ctx, dA, dB, dY, n);
  ctx.synchronize();
  compare("mul", shape, y, dY.download(), kExact);

  cpu::fill(y.data(), n, 2.5f);
  cuda::fill(ctx, dY, n, 2.5f);
  ctx.synchronize();
  compare("fill", shape, y, dY.download(), kExact);

  // Same Philox stream on both devices: the uniform draw is integer arithmetic, so exact.
  cpu::randomUniform(y.data(), n, 1234567, 89, -0.5f, 2.f);
  cuda::randomUniform(ctx, dY, n, 1234567, 89, -0.5f, 2.f);
  ctx.synchronize();
  compare("randomUniform", shape, y, dY.download(), kExact);

  // Box-Muller uses logf/cosf/sqrtf, whose device versions may differ in the last bits.
  cpu::randomNormal(y.data(), n, 42, 3, 0.1f, 2.f);
  cuda::randomNormal(ctx, dY, n, 42, 3, 0.1f, 2.f);
  ctx.synchronize();
  compare("randomNormal", shape, y, dY.download(), Tol{1e-5, 1e-5, false});

  std::vector<float> s(1);
  DevBuf<float> dS(sz(1));
  cpu::sum(a.data(), s.data(), n);
  cuda::sum(ctx, dA, dS, n);
  ctx.synchronize();
  compare("sum", shape, s, dS.download(), kReduction);
}

void dropout(Ctx& ctx) {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(100001)}) {
    for (float p : {0.f, 0.5f, 0.9f}) {
      auto x = randomVec(sz(n), 3), dy = randomVec(sz(n), 4);
      std::vector<float> y(sz(n)), mask(sz(n)), dx(sz(n));
      float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
      cpu::dropoutForward(x.data(), y.data(), mask.data(), n, p, scale, 0xDEADBEEFCAFEull, 5);
      cpu::dropoutBackward(dy.data(), mask.data(), dx.data(), n);
      DevBuf<float> dX(x), dY(sz(n)), dM(sz(n)), dDy(dy), dDx(sz(n));
      cuda::dropoutForward(ctx, dX, dY, dM, n, p, scale, 0xDEADBEEFCAFEull, 5);
      cuda::dropoutBackward(ctx, dDy, dM, dDx, n);
      ctx.synchronize();
      std::string shape = "[" + std::to_string(n) + "] p=" + std::to_string(p);
      compare("dropoutMask", shape, mask, dM.download(), kExact);
      compare("dropoutForward", shape, y, dY.download(), kExact);
      compare("dropoutBackward", shape, dx, dDx.download(), kExact);
    }
  }
}

void optim(Ctx& ctx) {
  const int64_t n = 4099;
  auto w0 = randomVec(sz(n), 5), g = randomVec(sz(n), 6), v0 = randomVec(sz(n), 7);
  struct Case {
    const char* name;
    bool paper;
    float momentum;
    bool nesterov;
  };
  for (Case c : {Case{"sgdPytorch", false, 0.9f, false}, Case{"sgdPytorchNesterov", false, 0.9f, true},
                 Case{"sgdPytorchNoMomentum", false, 0.f, false}, Case{"sgdPaper", true, 0.9f, false}}) {
    auto w = w0, v = v0;
    DevBuf<float> dW(w0), dG(g), dV(v0);
    for (int step = 0; step < 3; step++) {
      if (c.paper) {
        cpu::sgdStepPaper(w.data(), g.data(), v.data(), n, 0.01f, c.momentum, 5e-4f);
        cuda::sgdStepPaper(ctx, dW, dG, dV, n, 0.01f, c.momentum, 5e-4f);
      } else {
        cpu::sgdStepPytorch(w.data(), g.data(), v.data(), n, 0.01f, c.momentum, 5e-4f, c.nesterov);
        cuda::sgdStepPytorch(ctx, dW, dG, dV, n, 0.01f, c.momentum, 5e-4f, c.nesterov);
      }
    }
    ctx.synchronize();
    compare(std::string(c.name) + ".w", "[4099] x3 steps", w, dW.download(), kElementwise);
    compare(std::string(c.name) + ".v", "[4099] x3 steps", v, dV.download(), kElementwise);
  }
  // sgdFlat: 70 segments (more than one launch's 64) of odd sizes at 16-aligned offsets, every
  // third without decay; the padding between them must stay as it was on both sides.
  std::vector<cpu::SgdSegment> segs;
  int64_t at = 0;
  for (int s = 0; s < 70; s++) {
    const int64_t size = 1 + (s * 37) % 61;
    segs.push_back({at, size, s % 3 != 0});
    at = (at + size + 15) / 16 * 16;
  }
  const int64_t total = at;
  auto fw0 = randomVec(sz(total), 12), fg = randomVec(sz(total), 13), fv0 = randomVec(sz(total), 14);
  for (bool paper : {false, true}) {
    const cpu::SgdRule rule{0.01f, 0.9f, 5e-4f, paper, false};
    auto w = fw0, v = fv0;
    DevBuf<float> dW(fw0), dG(fg), dV(fv0);
    for (int step = 0; step < 3; step++) {
      cpu::sgdFlat(w.data(), fg.data(), v.data(), segs, rule);
      cuda::sgdFlat(ctx, dW, dG, dV, segs, rule);
    }
    ctx.synchronize();
    const std::string name = paper ? "sgdFlatPaper" : "sgdFlatPytorch";
    const std::string shape = "[" + std::to_string(total) + "] 70 segments x3 steps";
    compare(name + ".w", shape, w, dW.download(), kElementwise);
    compare(name + ".v", shape, v, dV.download(), kElementwise);
  }
}

void channelAffine(Ctx& ctx) {
  const int64_t N = 3, C = 5, HW = 37;
  const size_t total = sz(N * C * HW);
  auto x = randomVec(total, 8), a = randomVec(sz(C), 9), b = randomVec(sz(C), 10), dy = randomVec(total, 11);
  std::vector<float> y(total), dx(total), da(sz(C)), db(sz(C));
  cpu::channelAffineForward(x.data(), a.data(), b.data(), y.data(), N, C, HW);
  cpu::channelAffineBackward(dy.data(), x.data(), a.data(), dx.data(), da.data(), db.data(), N, C, HW);
  DevBuf<float> dX(x), dA(a), dB(b), dY(total), dDy(dy), dDx(total), dDa(sz(C)), dDb(sz(C));
  cuda::channelAffineForward(ctx, dX, dA, dB, dY, N, C, HW);
  cuda::channelAffineBackward(ctx, dDy, dX, dA, dDx, dDa, dDb, N, C, HW);
  ctx.synchronize();
  compare("channelAffineForward", "[3,5,37]", y, dY.download(), kElementwise);
  compare("channelAffineBackward.dx", "[3,5,37]", dx, dDx.download(), kElementwise);
  compare("channelAffineBackward.da", "[3,5,37]", da, dDa.download(), kReduction);
  compare("channelAffineBackward.db", "[3,5,37]", db, dDb.download(), kReduction);
}

}  // namespace

void checkElementwise(Ctx& ctx) {
  elementwise(ctx);
  const int64_t n = 65537;
  activation(ctx, "relu", cpu::reluForward, cuda::reluForward, cpu::reluBackward, cuda::reluBackward, n);
  activation(ctx, "tanh", cpu::tanhForward, cuda::tanhForward, cpu::tanhBackward, cuda::tanhBackward, n);
  activation(ctx, "sigmoid", cpu::sigmoidForward, cuda::sigmoidForward, cpu::sigmoidBackward, cuda::sigmoidBackward, n);
  activation(ctx, "scaledTanh", cpu::scaledTanhForward, cuda::scaledTanhForward, cpu::scaledTanhBackward,
             cuda::scaledTanhBackward, n);
  dropout(ctx);
  optim(ctx);
  channelAffine(ctx);
}

}  // namespace ck::check
