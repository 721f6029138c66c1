// The geometry of each kernel family, shared by native/cpu and native/cuda (DESIGN.md: same
// names, same arguments but the device context). Plain structs of int64_t: index arithmetic is
// done in 64 bits, and native/napi bounds every value before a kernel sees it.
#pragma once
#include <cstdint>

namespace ck {

// --- convolution (im2col, conv) -----------------------------------------------------------------
struct Conv2dGeom {
  int64_t N, C, H, W;              // input x [N, C, H, W]
  int64_t OC, KH, KW;              // weight [OC, C/groups, KH, KW]
  int64_t SH, SW, PH, PW, DH, DW;  // stride, zero padding, dilation
  int64_t OH, OW;                  // output y [N, OC, OH, OW]
  int64_t groups;

  int64_t Cg() const { return C / groups; }
  int64_t OCg() const { return OC / groups; }
  int64_t KHW() const { return KH * KW; }
  int64_t Kg() const { return Cg() * KH * KW; }  // rows of one group's column matrix
  int64_t HW() const { return H * W; }
  int64_t OHW() const { return OH * OW; }
  // A 1x1, stride-1, unpadded convolution: its column matrix is the input itself.
  bool pointwise() const { return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0; }
};

// Output extent floor((in + 2p - d(k-1) - 1) / s) + 1, or <= 0 when the kernel does not fit.
inline int64_t convOutputSize(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

// Which part of the batch a column buffer holds, and how it is laid out: images [n0, n0+images)
// and channels [c0, c0+channels) (one group, or all of them); element (image i, row r, column p)
// is at cols[r*rowStride + i*imageStride + p].
struct ColumnBlock {
  int64_t n0, images, c0, channels;
  int64_t rowStride, imageStride;
};

// --- pooling ------------------------------------------------------------------------------------
struct Pool2dGeom {
  int64_t N, C, H, W;  // input
  int64_t KH, KW, SH, SW, PH, PW;
  int64_t OH, OW;  // output, computed by the caller (TypeScript) with PyTorch's rule
  bool ceilMode;   // informational: OH/OW already reflect it
};

// --- local response normalization ------------------------------------------------------------
struct LrnGeom {
  int64_t N, C, H, W;
};

struct LrnParams {
  int64_t size;    // window size n >= 1
  float alphaEff;  // alpha/size (Caffe, PyTorch, ONNX) or alpha itself (the paper, TF): native/cpu/lrn.h
  float beta;
  float k;
  // Backward only: x is a ReLU's output, and dx is taken through that ReLU too (0 where x <= 0,
  // as reluBackward gives), so the network's backward skips a pass over the tensor.
  bool reluInput = false;
};

// --- activations: LeCun's scaled tanh 1.7159 tanh(2x/3), the same constants on both devices --
constexpr float kScaledTanhA = 1.7159f;
constexpr float kScaledTanhS = 2.0f / 3.0f;

// --- optimizer: the flat SGD step's ranges and rule -------------------------------------------
// One range of a model's flat buffers that sgdFlat updates: elements [offset, offset + size),
// with the rule's weight decay (decay) or none (biases and other noDecay parameters). Elements
// outside every segment (the padding that aligns each parameter) are not touched.
struct SgdSegment {
  int64_t offset;
  int64_t size;
  bool decay;
};

// The rule of one flat step: lr, momentum and weight decay as above, the paper's form or
// PyTorch's (nesterov only with PyTorch's).
struct SgdRule {
  float lr;
  float momentum;
  float weightDecay;
  bool paper;
  bool nesterov;
};

}  // namespace ck
