// Convolution as Caffe does it (layers/base_conv_layer.cpp), batched:
//   forward   y[n, g] = W_g [OCg, Kg] . cols[n, g] [Kg, OHW]        (strided-batched over n)
//   data      dcols[n, g] = W_g^T . dy[n, g], then col2im into dx     (strided-batched over n)
//   filter    dW_g = sum_n dy[n, g] . cols[n, g]^T                     (one GEMM per image, beta 1)
//   bias      db[o] = sum over n, p of dy[n, o, p]
// The mask multiplies W before use (w * mask) and dW after (so masked weights get no gradient).
#include <algorithm>
#include <atomic>

#include "conv.h"

#include "activation.h"
#include "cuda_check.h"
#include "device_scratch.h"
#include "elementwise.h"
#include "gemm.h"
#include "im2col.h"
#include "launch.h"

namespace ck::cuda {

namespace {

// wm[o, k] = w[o, k] * mask[o, k / KHW]
__global__ void mask_weights_kernel(const float* w, const float* mask, float* wm, int64_t OC, int64_t Kg, int64_t KHW) {
  CK_GRID_STRIDE(i, OC * Kg) wm[i] = w[i] * mask[(i / Kg) * (Kg / KHW) + (i % Kg) / KHW];
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t images, int64_t OC, int64_t OHW) {
  CK_GRID_STRIDE(i, images * OC * OHW) y[i] += bias[(i / OHW) % OC];
}

// One block per output channel; double accumulation as on the CPU.
__global__ void bias_grad_kernel(const float* dy, float* db, int64_t N, int64_t OC, int64_t OHW) {
  __shared__ double part[kThreads];
  int64_t o = blockIdx.x;
  double s = 0;
  for (int64_t i = threadIdx.x; i < N * OHW; i += blockDim.x) s += dy[((i / OHW) * OC + o) * OHW + i % OHW];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[o] = float(part[0]);
}

std::atomic<int64_t> scratchCap{kDefaultConvScratchBytes};

int64_t imagesPerChunk(const Conv2dGeom& g) {
  int64_t perImage = std::max<int64_t>(1, g.C * g.KHW() * g.OHW() * int64_t(sizeof(float)));
  return std::max<int64_t>(1, std::min(g.N, scratchCap.load() / perImage));
}

// The effective weights: w itself, or w * mask in `buf`.
const float* effectiveWeights(Ctx& ctx, const float* w, const float* mask, const Conv2dGeom& g, DeviceScratch* buf) {
  if (!mask) return w;
  float* wm = buf->as<float>();
  mask_weights_kernel<<<gridFor(g.OC * g.Kg()), kThreads, 0, ctx.stream()>>>(w, mask, wm, g.OC, g.Kg(), g.KHW());
  checkLaunch("conv2d (mask)");
  return wm;
}

}  // namespace

int64_t setConvScratchBytes(int64_t bytes) { return scratchCap.exchange(bytes); }

void conv2dForward(Ctx& ctx, const float* x, const float* w, const float* bias, const float* mask, const Conv2dGeom& g,
                   float* y) {
  if (g.N == 0 || g.OC == 0 || g.OHW() == 0) return;
  ctx.makeCurrent();
  DeviceScratch wbuf(ctx, mask ? size_t(g.OC * g.Kg()) * sizeof(float) : 1);
  const float* wEff = effectiveWeights(ctx, w, mask, g, &wbuf);
  const int64_t OHW = g.OHW(), Kg = g.Kg(), OCg = g.OCg(), rows = g.C * g.KHW();
  const bool direct = g.pointwise();
  const int64_t chunk = imagesPerChunk(g);
  DeviceScratch cols(ctx, direct ? 1 : size_t(chunk * rows * OHW) * sizeof(float));
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    int64_t nb = std::min(chunk, g.N - n0);
    const float* B = x + n0 * g.C * g.HW();
    int64_t imageStride = g.C * g.HW();
    if (!direct) {
      ColumnBlock blk{n0, nb, 0, g.C, OHW, rows * OHW};
      im2colBlock(ctx, x, g, blk, cols.as<float>());
      B = cols.as<float>();
      imageStride = rows * OHW;
    }
    for (int64_t gi = 0; gi < g.groups; gi++)
      sgemmStridedBatched(ctx, false, false, OCg, OHW, Kg, 1.f, wEff + gi * OCg * Kg, Kg, 0, B + gi * Kg * OHW, OHW,
                          imageStride, 0.f, y + (n0 * g.OC + gi * OCg) * OHW, OHW, g.OC * OHW, nb);
  }
  if (bias) {
    add_bias_kernel<<<gridFor(g.N * g.OC * OHW), kThreads, 0, ctx.stream()>>>(y, bias, g.N, g.OC, OHW);
    checkLaunch("conv2d (bias)");
  }
}

void conv2dForwardRelu(Ctx& ctx, const float* x, const float* w, const float* bias, const float* mask,
                       const Conv2dGeom& g, float* y) {
  conv2dForward(ctx, x, w, bias, mask, g, y);
  reluForward(ctx, y, y, g.N * g.OC * g.OHW());
}

void conv2dBackward(Ctx& ctx, const float* dy, const float* x, const float* w, const float* mask, const Conv2dGeom& g,
                    float* dx, float* dw, float* db, bool reluInput) {
  ctx.makeCurrent();
  const int64_t OHW = g.OHW(), Kg = g.Kg(), OCg = g.OCg(), rows = g.C * g.KHW();
  if (db) {
    if (g.OC > 0) {
      bias_grad_kernel<<<unsigned(g.OC), kThreads, 0, ctx.stream()>>>(dy, db, g.N, g.OC, OHW);
      checkLaunch("conv2dBackward (bias)");
    }
  }
  if (dw) fill(ctx, dw, g.OC * Kg, 0.f);
  if (dx) fill(ctx, dx, g.N * g.C * g.HW(), 0.f);
  if (g.N == 0 || g.OC == 0 || OHW == 0 || Kg == 0) return;
  DeviceScratch wbuf(ctx, mask ? size_t(g.OC * Kg) * sizeof(float) : 1);
  const float* wEff = dx ? effectiveWeights(ctx, w, mask, g, &wbuf) : w;
  const int64_t chunk = imagesPerChunk(g);
  DeviceScratch cols(ctx, size_t(chunk * rows * OHW) * sizeof(float));
  float* c = cols.as<float>();
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    int64_t nb = std::min(chunk, g.N - n0);
    ColumnBlock blk{n0, nb, 0, g.C, OHW, rows * OHW};
    const float* dyc = dy + n0 * g.OC * OHW;
    if (dw) {
      im2colBlock(ctx, x, g, blk, c);
      for (int64_t i = 0; i < nb; i++)
        for (int64_t gi = 0; gi < g.groups; gi++)
          sgemm(ctx, false, true, OCg, Kg, OHW, 1.f, dyc + (i * g.OC + gi * OCg) * OHW, OHW,
                c + i * rows * OHW + gi * Kg * OHW, OHW, 1.f, dw + gi * OCg * Kg, Kg);
    }
    if (dx) {
      for (int64_t gi = 0; gi < g.groups; gi++)
        sgemmStridedBatched(ctx, true, false, Kg, OHW, OCg, 1.f, wEff + gi * OCg * Kg, Kg, 0, dyc + gi * OCg * OHW, OHW,
                            g.OC * OHW, 0.f, c + gi * Kg * OHW, OHW, rows * OHW, nb);
      col2imBlock(ctx, c, g, blk, dx);
    }
  }
  if (dw && mask) {
    mask_weights_kernel<<<gridFor(g.OC * Kg), kThreads, 0, ctx.stream()>>>(dw, mask, dw, g.OC, Kg, g.KHW());
    checkLaunch("conv2dBackward (mask)");
  }
  if (reluInput && dx) reluBackward(ctx, dx, x, dx, g.N * g.C * g.HW());
}

}  // namespace ck::cuda
