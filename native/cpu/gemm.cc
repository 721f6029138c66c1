// The blocked SGEMM driver (Goto/BLIS scheme):
//   - all of op(A) is packed once per call into MR-row panels, per block of kc columns, shared by
//     the threads (one barrier, then the tasks);
//   - each task owns a range of C's columns and walks it in slabs of at most slabColumns(): per
//     slab and k block it packs op(B) into NR-column panels (the slab stays in L2), then takes A
//     panels one at a time (in L1) against every B panel of the slab, each pair being one
//     register-blocked micro-tile (gemm_avx512.cc, gemm_avx2.cc, gemm_portable.cc).
// Tasks split C by columns when it is wide (the conv shapes: N is batch*OH*OW) and by rows
// otherwise, a multiple of the thread count with whole panels dealt out evenly, picked up
// dynamically from the pool. bench/kernels/sgemm.mjs compares the result with OpenBLAS.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <unistd.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "../core/scratch.h"
#include "../core/thread_pool.h"
#include "gemm_kernels.h"
#include "isa.h"

namespace ck::cpu {

namespace {

using gemm::Kernel;
using gemm::Store;

// kc: one A panel (MR x kc) must stay in L1 while B panels stream past it.
constexpr int64_t kKcMax = 384;
// Columns of op(B) a task packs at a time (a slab, which every A panel then passes over): as
// many as fill 3/8 of this core's L2 at kc = kKcMax, in [128, 640]. 640 filled a Zen 4 core's
// whole 1 MiB L2, and in the minutes when a neighbour shared the core (a cloud host's other
// hyperthread) AlexNet's batch-32 inference took 274 ms against 240 with slabs of 256 columns
// (medians of 6 runs, two passes in turns); on a quiet core the two were even (241 / 242 ms,
// SGEMM 2048^3 213.5 / 212.5 GFLOP/s), and 160 columns cost the SGEMM 3%. A 2 MiB L2 (the
// Xeons) gets 512, which was not measured there.
int64_t slabColumns() {
  static const int64_t nc = [] {
    long l2 = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (l2 <= 0) l2 = 1L << 20;  // unknown: assume 1 MiB, the smaller of the L2s these hosts have
    return std::clamp<int64_t>(int64_t(l2) * 3 / 8 / (kKcMax * int64_t(sizeof(float))), 128, 640);
  }();
  return nc;
}
// Below this many multiply-adds the pool's hand-off costs more than it saves.
constexpr double kParallelMinMacs = 1 << 18;
// Column tasks per thread when C is wide enough, so that a thread slowed by another process
// (these cores are shared) leaves its last pieces to the other; never under 16 panels a task,
// since each A panel loaded is reused across the panels of one slab.
constexpr int64_t kTasksPerThread = 4, kMinTaskPanels = 16;
// Packed op(A) is held whole per call; taller A is processed in row slices under this size.
constexpr int64_t kMaxPackedA = int64_t(16) << 20;  // floats
// C at least this large is streamed out when one k block writes it (Store::Stream): AlexNet's
// fc6 weight gradient at batch 16 (151 MB) took 7.6 ms with plain stores and 5.2 ms streamed on
// a 2-core Xeon; conv outputs, which the next op reads back soon, are chunked far below it.
constexpr double kStreamCBytes = double(32 << 20);

// Orders a task's non-temporal stores before whatever signals that the task is done.
void storeFence() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_sfence();
#endif
}

// The micro-kernel for the active ISA level (isa.h), read once per sgemm call.
const Kernel& currentKernel() {
  switch (activeIsa()) {
    case Isa::kAvx512: return gemm::avx512Kernel();
    case Isa::kAvx2: return gemm::avx2Kernel();
    case Isa::kPortable: break;
  }
  return gemm::portableKernel();
}

// C = beta*C, the whole answer when K == 0 or alpha == 0 (A and B are not read).
void scaleC(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t m = 0; m < M; m++) {
    float* c = C + m * ldc;
    if (beta == 0.0f) std::memset(c, 0, size_t(N) * sizeof(float));
    else if (beta != 1.0f)
      for (int64_t n = 0; n < N; n++) c[n] *= beta;
  }
}

struct Split {
  int64_t mChunks, nChunks;
};

Split chooseSplit(int64_t mPanels, int64_t nPanels, int threads) {
  if (threads <= 1) return {1, 1};
  if (nPanels >= 2 * threads) {
    int64_t nChunks =
        std::max<int64_t>(threads, std::min<int64_t>(kTasksPerThread * threads, nPanels / kMinTaskPanels));
    nChunks = (nChunks + threads - 1) / threads * threads;
    return {1, std::min(nChunks, nPanels)};
  }
  return {std::min<int64_t>(threads, mPanels), 1};
}

// The A panels of one row slice: block b's panels start at kStart(b) * mPad, kStart as below.
struct APanels {
  int64_t M, K, mPanels, mPad, kBlocks;
};

APanels aLayout(const Kernel& kr, int64_t M, int64_t K) {
  const int64_t mPanels = (M + kr.mr - 1) / kr.mr;
  return {M, K, mPanels, mPanels * kr.mr, (K + kKcMax - 1) / kKcMax};
}

int64_t kBlockStart(const APanels& l, int64_t b) { return b * l.K / l.kBlocks; }

bool runsParallel(int64_t M, int64_t N, int64_t K) { return double(M) * double(N) * double(K) >= kParallelMinMacs; }

// Packs all of op(A) (M x K) into aPack, laid out as aLayout says.
void packAllA(const Kernel& kr, const APanels& l, bool transA, const float* A, int64_t lda, float* aPack,
              bool parallel) {
  auto packA = [&](int64_t t) {
    int64_t b = t / l.mPanels, i = t % l.mPanels;
    int64_t k0 = kBlockStart(l, b), kc = kBlockStart(l, b + 1) - k0;
    int64_t rows = std::min<int64_t>(kr.mr, l.M - i * kr.mr);
    kr.packA(transA, A, lda, i * kr.mr, rows, k0, kc, aPack + k0 * l.mPad + i * kc * kr.mr);
  };
  if (parallel && threadPool().size() > 1) threadPool().parallelFor(l.kBlocks * l.mPanels, packA);
  else
    for (int64_t t = 0; t < l.kBlocks * l.mPanels; t++) packA(t);
}

// C = alpha * op(A) op(B) + beta * C for an op(A) already packed (packAllA).
void blockedSgemmPacked(const Kernel& kr, const APanels& l, const float* aPack, int64_t N, float alpha,
                        const BPanelPacker& packB, float beta, float* C, int64_t ldc) {
  const int64_t M = l.M, K = l.K;
  const int64_t MR = kr.mr, NR = kr.nr;
  const int64_t mPanels = l.mPanels, nPanels = (N + NR - 1) / NR;
  const int64_t kBlocks = l.kBlocks, mPad = l.mPad;
  auto kStart = [&](int64_t b) { return kBlockStart(l, b); };

  ThreadPool& pool = threadPool();
  int threads = runsParallel(M, N, K) ? pool.size() : 1;

  Split split = chooseSplit(mPanels, nPanels, threads);
  // A C this large, written in one k block, is streamed to memory (Store::Stream).
  const bool streamC = beta == 0.0f && kBlocks == 1 && double(M) * double(N) * sizeof(float) >= kStreamCBytes;
  // Columns are packed slabColumns() at a time; a task walks its slabs and k blocks in order.
  const int64_t slabPanels = std::max<int64_t>(1, slabColumns() / NR);
  // One cache line between panels (see gemm_kernels.h).
  const int64_t bStride = std::min(K, kKcMax) * NR + 16;
  auto task = [&](int64_t t) {
    int64_t mc = t / split.nChunks, nc = t % split.nChunks;
    int64_t i0 = mc * mPanels / split.mChunks, i1 = (mc + 1) * mPanels / split.mChunks;
    int64_t j0 = nc * nPanels / split.nChunks, j1 = (nc + 1) * nPanels / split.nChunks;
    if (i0 >= i1 || j0 >= j1) return;
    // Equal slabs: 21 panels are 11 + 10, not 20 + 1.
    int64_t slabs = (j1 - j0 + slabPanels - 1) / slabPanels;
    Scratch bBuf(size_t(bStride * ((j1 - j0 + slabs - 1) / slabs)) * sizeof(float));
    float* bPack = bBuf.as<float>();
    for (int64_t sl = 0; sl < slabs; sl++) {
      int64_t s0 = j0 + sl * (j1 - j0) / slabs, s1 = j0 + (sl + 1) * (j1 - j0) / slabs;
      int64_t n0 = s0 * NR, cols = std::min(N, s1 * NR) - n0;
      for (int64_t b = 0; b < kBlocks; b++) {
        int64_t k0 = kStart(b), kc = kStart(b + 1) - k0;
        packB(k0, kc, n0, cols, NR, bPack, bStride);
        bool first = b == 0;
        Store mode = first && beta == 0.0f ? (streamC ? Store::Stream : Store::Overwrite) : Store::Blend;
        float be = first ? beta : 1.0f;
        const float* aBlock = aPack + k0 * mPad;
        for (int64_t i = i0; i < i1; i++) {
          int rows = int(std::min(MR, M - i * MR));
          const float* a = aBlock + i * kc * MR;
          float* cRow = C + i * MR * ldc;
          for (int64_t j = s0; j < s1; j++) {
            int w = int(std::min(NR, N - j * NR));
            kr.tile(kc, a, bPack + (j - s0) * bStride, cRow + j * NR, ldc, rows, w, alpha, be, mode);
          }
        }
      }
    }
    if (streamC) storeFence();
  };
  int64_t tasks = split.mChunks * split.nChunks;
  if (threads > 1) pool.parallelFor(tasks, task);
  else
    for (int64_t t = 0; t < tasks; t++) task(t);
}

void blockedSgemm(const Kernel& kr, bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const BPanelPacker& packB, float beta, float* C, int64_t ldc) {
  const APanels l = aLayout(kr, M, K);
  Scratch aBuf(size_t(l.mPad * K) * sizeof(float));
  packAllA(kr, l, transA, A, lda, aBuf.as<float>(), runsParallel(M, N, K));
  blockedSgemmPacked(kr, l, aBuf.as<float>(), N, alpha, packB, beta, C, ldc);
}

void sgemmWith(const Kernel& kr, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) return scaleC(M, N, beta, C, ldc);
  int64_t slice = std::max<int64_t>(1, kMaxPackedA / K / kr.mr) * kr.mr;
  const BPanelPacker packB = [&](int64_t k0, int64_t kc, int64_t n0, int64_t cols, int, float* dst, int64_t stride) {
    kr.packB(transB, B, ldb, k0, kc, n0, cols, dst, stride);
  };
  for (int64_t m0 = 0; m0 < M; m0 += slice) {
    const float* a = transA ? A + m0 : A + m0 * lda;
    blockedSgemm(kr, transA, std::min(slice, M - m0), N, K, alpha, a, lda, packB, beta, C + m0 * ldc, ldc);
  }
}

}  // namespace

struct PackedA::Impl {
  const Kernel* kernel;
  APanels layout;
  std::unique_ptr<Scratch> panels;
};

PackedA::PackedA(bool transA, int64_t M, int64_t K, const float* A, int64_t lda) : impl_(std::make_unique<Impl>()) {
  const Kernel& kr = currentKernel();
  impl_->kernel = &kr;
  impl_->layout = aLayout(kr, std::max<int64_t>(M, 0), std::max<int64_t>(K, 0));
  const APanels& l = impl_->layout;
  if (l.M == 0 || l.K == 0) return;
  impl_->panels = std::make_unique<Scratch>(size_t(l.mPad * l.K) * sizeof(float));
  // Parallel for the sizes where one GEMM over a few hundred columns would be.
  packAllA(kr, l, transA, A, lda, impl_->panels->as<float>(), runsParallel(l.M, 256, l.K));
}

PackedA::~PackedA() = default;
PackedA::PackedA(PackedA&&) noexcept = default;
PackedA& PackedA::operator=(PackedA&&) noexcept = default;
int64_t PackedA::rows() const { return impl_->layout.M; }
int64_t PackedA::depth() const { return impl_->layout.K; }

void sgemmPackedB(const PackedA& a, int64_t N, const BPanelPacker& packB, float beta, float* C, int64_t ldc) {
  const PackedA::Impl& p = a.impl();
  if (p.layout.M <= 0 || N <= 0) return;
  if (p.layout.K <= 0) return scaleC(p.layout.M, N, beta, C, ldc);
  blockedSgemmPacked(*p.kernel, p.layout, p.panels->as<float>(), N, 1.0f, packB, beta, C, ldc);
}

void sgemm(const PackedA& a, bool transB, int64_t N, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const Kernel& kr = *a.impl().kernel;
  const BPanelPacker packB = [&](int64_t k0, int64_t kc, int64_t n0, int64_t cols, int, float* dst, int64_t stride) {
    kr.packB(transB, B, ldb, k0, kc, n0, cols, dst, stride);
  };
  sgemmPackedB(a, N, packB, beta, C, ldc);
}

const char* sgemmKernelName() { return currentKernel().name; }

void sgemmPackedB(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const BPanelPacker& packB, float beta,
                  float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return scaleC(M, N, beta, C, ldc);
  const Kernel& kr = currentKernel();
  const int64_t slice = std::max<int64_t>(1, kMaxPackedA / K / kr.mr) * kr.mr;
  for (int64_t m0 = 0; m0 < M; m0 += slice)
    blockedSgemm(kr, false, std::min(slice, M - m0), N, K, 1.0f, A + m0 * lda, lda, packB, beta, C + m0 * ldc, ldc);
}

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemmWith(currentKernel(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemmStridedBatched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                         int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                         float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  if (batch <= 0) return;
  const Kernel& kr = currentKernel();
  auto one = [&](int64_t i) {
    sgemmWith(kr, transA, transB, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC,
              ldc);
  };
  // Many matrices: one per task, each serial inside (nested pool calls run serially), so no
  // matrix is split and nothing waits on a barrier. Few large ones: split each matrix instead.
  int threads = threadPool().size();
  bool perMatrix = batch >= 4 * threads || (batch >= threads && batch % threads == 0);
  if (perMatrix && threads > 1) threadPool().parallelFor(batch, one);
  else
    for (int64_t i = 0; i < batch; i++) one(i);
}

}  // namespace ck::cpu
