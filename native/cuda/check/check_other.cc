// Pooling, LRN, losses, RBF, the kernel-fault path and the device allocator; and the GEMM timing.
#include <chrono>
#include <cmath>

#include "../../core/errors.h"
#include "../../core/storage.h"
#include "../../cpu/loss.h"
#include "../../cpu/lrn.h"
#include "../../cpu/pool.h"
#include "../../cpu/rbf.h"
#include "../device_allocator.h"
#include "../gemm.h"
#include "../loss.h"
#include "../lrn.h"
#include "../pool.h"
#include "../rbf.h"
#include "checks.h"
#include "harness.h"

namespace ck::check {

namespace {

using cuda::Ctx;

// PyTorch's output size, with ceil mode's rule that the last window starts inside the input.
int64_t poolOut(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil) {
  int64_t span = in + 2 * p - k;
  int64_t o = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (o - 1) * s >= in + p) o--;
  return o;
}

void poolChecks(Ctx& ctx) {
  struct G {
    int64_t N, C, H, W, K, S, P;
    bool ceil;
  };
  for (G c : {G{2, 3, 13, 13, 3, 2, 0, false}, G{1, 2, 8, 11, 3, 2, 1, true}, G{2, 1, 7, 5, 2, 3, 0, true},
              G{3, 2, 28, 28, 2, 2, 0, false}}) {
    cpu::Pool2dGeom g{c.N, c.C, c.H, c.W, c.K, c.K, c.S, c.S, c.P, c.P, 0, 0, c.ceil};
    g.OH = poolOut(c.H, c.K, c.S, c.P, c.ceil);
    g.OW = poolOut(c.W, c.K, c.S, c.P, c.ceil);
    char shape[160];
    std::snprintf(shape, sizeof shape, "x[%lld,%lld,%lld,%lld] k%lld s%lld p%lld%s", (long long)c.N, (long long)c.C,
                  (long long)c.H, (long long)c.W, (long long)c.K, (long long)c.S, (long long)c.P,
                  c.ceil ? " ceil" : "");
    size_t xs = sz(g.N * g.C * g.H * g.W), ys = sz(g.N * g.C * g.OH * g.OW);
    auto x = randomVec(xs, 61), dy = randomVec(ys, 62);
    x[3] = x[4];  // a tie: the first in row-major order wins on both devices
    DevBuf<float> dX(x), dY(ys), dDy(dy), dDx(xs);
    DevBuf<int32_t> dArg(ys);
    std::vector<float> y(ys), dx(xs);
    std::vector<int32_t> arg(ys);
    cpu::maxPool2dForward(x.data(), g, y.data(), arg.data());
    cpu::maxPool2dBackward(dy.data(), arg.data(), g, dx.data());
    cuda::maxPool2dForward(ctx, dX, g, dY, dArg);
    cuda::maxPool2dBackward(ctx, dDy, dArg, g, dDx);
    ctx.synchronize();
    compare("maxPool2dForward", shape, y, dY.download(), kExact);
    compare("maxPool2dForward.argmax", shape, arg, dArg.download(), kExact);
    compare("maxPool2dBackward", shape, dx, dDx.download(), kExact);
    for (int mode = 0; mode < 3; mode++) {
      const char* name = mode == 0 ? "sumPool2d" : mode == 1 ? "avgPool2d(countIncludePad)" : "avgPool2d";
      if (mode == 0) {
        cpu::sumPool2dForward(x.data(), g, y.data());
        cpu::sumPool2dBackward(dy.data(), g, dx.data());
        cuda::sumPool2dForward(ctx, dX, g, dY);
        cuda::sumPool2dBackward(ctx, dDy, g, dDx);
      } else {
        cpu::avgPool2dForward(x.data(), g, mode == 1, y.data());
        cpu::avgPool2dBackward(dy.data(), g, mode == 1, dx.data());
        cuda::avgPool2dForward(ctx, dX, g, mode == 1, dY);
        cuda::avgPool2dBackward(ctx, dDy, g, mode == 1, dDx);
      }
      ctx.synchronize();
      compare(std::string(name) + "Forward", shape, y, dY.download(), kElementwise);
      compare(std::string(name) + "Backward", shape, dx, dDx.download(), kElementwise);
    }
  }
}

void lrnChecks(Ctx& ctx) {
  for (int64_t size : {int64_t(5), int64_t(4), int64_t(1)}) {
    cpu::LrnGeom g{2, 7, 5, 3};
    cpu::LrnParams p{size, 1e-1f / float(size), 0.75f, 2.f};
    if (size == 4) p.beta = 0.6f;  // the powf path
    size_t n = sz(g.N * g.C * g.H * g.W);
    auto x = randomVec(n, 71, -2, 2), dy = randomVec(n, 72);
    std::vector<float> y(n), scale(n), dx(n);
    cpu::lrnForward(x.data(), g, p, y.data(), scale.data());
    cpu::lrnBackward(dy.data(), x.data(), y.data(), scale.data(), g, p, dx.data());
    DevBuf<float> dX(x), dY(n), dS(n), dDy(dy), dDx(n);
    cuda::lrnForward(ctx, dX, g, p, dY, dS);
    cuda::lrnBackward(ctx, dDy, dX, dY, dS, g, p, dDx);
    ctx.synchronize();
    std::string shape = "x[2,7,5,3] size " + std::to_string(size);
    compare("lrnForward.scale", shape, scale, dS.download(), kElementwise);
    compare("lrnForward", shape, y, dY.download(), kElementwise);
    compare("lrnBackward", shape, dx, dDx.download(), kReduction);
  }
}

void lossChecks(Ctx& ctx) {
  const int64_t N = 37, K = 10, topk = 3;
  auto logits = randomVec(sz(N * K), 81, -4, 4), dyv = randomVec(sz(N * K), 82);
  std::vector<int32_t> labels(sz(N));
  for (int64_t n = 0; n < N; n++) labels[sz(n)] = int32_t((n * 7 + 3) % K);
  std::vector<float> probs(sz(N * K)), out(3), dl(sz(N * K)), sm(sz(N * K)), dsm(sz(N * K));
  cpu::softmaxForward(logits.data(), sm.data(), N, K);
  cpu::softmaxBackward(dyv.data(), sm.data(), dsm.data(), N, K);
  cpu::softmaxCrossEntropyForward(logits.data(), labels.data(), probs.data(), &out[0], &out[1], &out[2], N, K, topk);
  cpu::softmaxCrossEntropyBackward(probs.data(), labels.data(), dl.data(), N, K, 1.5f);
  DevBuf<float> dLog(logits), dDyv(dyv), dSm(sm.size()), dDsm(sm.size()), dProbs(probs.size()), dOut(sz(3)),
      dDl(dl.size());
  DevBuf<int32_t> dLab(labels);
  cuda::softmaxForward(ctx, dLog, dSm, N, K);
  cuda::softmaxBackward(ctx, dDyv, dSm, dDsm, N, K);
  cuda::softmaxCrossEntropyForward(ctx, dLog, dLab, dProbs, dOut.get(), dOut.get() + 1, dOut.get() + 2, N, K, topk);
  cuda::softmaxCrossEntropyBackward(ctx, dProbs, dLab, dDl, N, K, 1.5f);
  ctx.synchronize();
  compare("softmaxForward", "[37,10]", sm, dSm.download(), kElementwise);
  compare("softmaxBackward", "[37,10]", dsm, dDsm.download(), kElementwise);
  compare("softmaxCrossEntropyForward.probs", "[37,10]", probs, dProbs.download(), kElementwise);
  compare("softmaxCrossEntropyForward.loss,correct,top3", "[37,10]", out, dOut.download(), kReduction);
  compare("softmaxCrossEntropyBackward", "[37,10] scale 1.5", dl, dDl.download(), kElementwise);
}

void rbfChecks(Ctx& ctx) {
  const int64_t N = 9, F = 84, K = 10;
  auto x = randomVec(sz(N * F), 91), w = randomVec(sz(K * F), 92), dyv = randomVec(sz(N * K), 93);
  std::vector<int32_t> labels(sz(N));
  for (int64_t n = 0; n < N; n++) labels[sz(n)] = int32_t((n * 3 + 1) % K);
  std::vector<float> y(sz(N * K)), dx(sz(N * F)), out(2), dcrit(sz(N * K));
  cpu::rbfForward(x.data(), w.data(), y.data(), N, F, K);
  cpu::rbfBackward(dyv.data(), x.data(), w.data(), dx.data(), N, F, K);
  cpu::rbfCriterion(y.data(), labels.data(), &out[0], &out[1], dcrit.data(), N, K, 0.1f);
  DevBuf<float> dX(x), dW(w), dY(y.size()), dDyv(dyv), dDx(dx.size()), dOut(sz(2)), dCrit(dcrit.size());
  DevBuf<int32_t> dLab(labels);
  cuda::rbfForward(ctx, dX, dW, dY, N, F, K);
  cuda::rbfBackward(ctx, dDyv, dX, dW, dDx, N, F, K);
  // The criterion reads the CPU's y so that it is checked on its own, not through rbfForward.
  DevBuf<float> dYcpu(y);
  cuda::rbfCriterion(ctx, dYcpu, dLab, dOut.get(), dOut.get() + 1, dCrit, N, K, 0.1f);
  ctx.synchronize();
  compare("rbfForward", "x[9,84] w[10,84]", y, dY.download(), kReduction);
  compare("rbfBackward", "x[9,84] w[10,84]", dx, dDx.download(), kReduction);
  compare("rbfCriterion.loss,correct", "[9,10] J 0.1", out, dOut.download(), kReduction);
  compare("rbfCriterion.dy", "[9,10] J 0.1", dcrit, dCrit.download(), kElementwise);
}

// A bad label must come back as ND_ARG at the next synchronize, and the context must stay usable.
void faultChecks(Ctx& ctx) {
  std::vector<int32_t> labels{0, 1, 12, 2};
  auto logits = randomVec(16, 99);
  DevBuf<float> dLog(logits), dProbs(sz(16)), dOut(sz(3));
  DevBuf<int32_t> dLab(labels);
  cuda::softmaxCrossEntropyForward(ctx, dLog, dLab, dProbs, dOut.get(), dOut.get() + 1, nullptr, 4, 4, 1);
  std::string detail = "no error raised";
  bool pass = false;
  try {
    ctx.synchronize("softmaxCrossEntropy");
  } catch (const Error& e) {
    detail = std::string(codeName(e.code())) + ": " + e.what();
    pass = e.code() == Code::Arg && detail.find("row 2") != std::string::npos;
  }
  report("faultBadLabel", "labels {0,1,12,2}, K 4", pass, detail);
  bool clean = true;
  try {
    ctx.synchronize();
  } catch (const Error&) { clean = false; }
  report("faultCleared", "after the reported fault", clean, clean ? "next wait is clean" : "fault reported twice");
}

void allocatorChecks(Ctx& ctx) {
  auto& alloc = cuda::deviceAllocator(ctx.device());
  size_t r1, r2;
  void* a = alloc.allocate(1000, ctx.stream(), &r1);
  alloc.free(a, r1, ctx.stream());
  void* b = alloc.allocate(1000, ctx.stream(), &r2);
  bool reused = a == b;
  alloc.free(b, r2, ctx.stream());
  report("deviceAllocatorReuse", "1000 bytes, same stream", reused, reused ? "block reused" : "fresh cudaMalloc");
  std::string detail = "no error";
  bool oom = false;
  try {
    size_t r;
    alloc.allocate(sz(1) << 50, ctx.stream(), &r);
  } catch (const Error& e) {
    oom = e.code() == Code::OOM;
    detail = std::string(codeName(e.code())) + ": " + e.what();
  }
  report("deviceAllocatorOOM", "1 PiB", oom, detail);

  // Device tensors' storage: allocated from this allocator, counted per device, and given back
  // through the free hook when the last reference goes.
  AllocatorStats before = alloc.stats();
  LiveCounter& live = liveCounter(DeviceKind::Cuda, ctx.device());
  int64_t liveBefore = live.count.load();
  bool counted;
  {
    auto s = Storage::allocDevice(4096, ctx.device());
    counted = s->kind == DeviceKind::Cuda && live.count.load() == liveBefore + 1 &&
              alloc.stats().liveBlocks == before.liveBlocks + 1;
  }
  bool returned = live.count.load() == liveBefore && alloc.stats().liveBlocks == before.liveBlocks;
  report("storageAllocDevice", "4096 bytes", counted && returned,
         std::string(counted ? "counted" : "not counted") + ", " + (returned ? "returned" : "not returned"));
}

}  // namespace

void checkOtherFamilies(Ctx& ctx) {
  poolChecks(ctx);
  lrnChecks(ctx);
  lossChecks(ctx);
  rbfChecks(ctx);
  faultChecks(ctx);
  allocatorChecks(ctx);
}

void benchGemm(Ctx& ctx) {
  for (int64_t n : {int64_t(512), int64_t(1024), int64_t(2048), int64_t(4096)}) {
    for (bool tf32 : {false, true}) {
      ctx.tf32 = tf32;
      DevBuf<float> A(sz(n * n)), B(sz(n * n)), C(sz(n * n));
      cudaMemset(A, 0, sz(n * n) * 4);
      cudaMemset(B, 0, sz(n * n) * 4);
      cudaDeviceSynchronize();
      for (int i = 0; i < 3; i++) cuda::sgemm(ctx, false, false, n, n, n, 1.f, A, n, B, n, 0.f, C, n);
      ctx.synchronize();
      int reps = n <= 1024 ? 50 : 10;
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; i++) cuda::sgemm(ctx, false, false, n, n, n, 1.f, A, n, B, n, 0.f, C, n);
      ctx.synchronize();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
      std::printf(
          "{\"bench\":\"sgemm\",\"impl\":\"convkit\",\"M\":%lld,\"N\":%lld,\"K\":%lld,\"tf32\":%s,\"ms\":%.4f,"
          "\"gflops\":%.1f}\n",
          (long long)n, (long long)n, (long long)n, tf32 ? "true" : "false", s * 1e3, 2.0 * n * n * n / s / 1e9);
      std::fflush(stdout);
    }
  }
  ctx.tf32 = false;
}

}  // namespace ck::check
