// Bindings of native/cpu/im2col and native/cpu/conv and their CUDA twins: argument conversion and
// per-device dispatch (dispatch.h), nothing else.
// Geometry crosses as one array: [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, groups]
// (lib/ops/conv.ts builds it). TypeScript has validated it; the checks here only keep a wrong
// call from reading or writing out of bounds.
#include <string>

#include "../cpu/conv.h"
#include "../cpu/conv_direct.h"
#include "../cpu/im2col.h"
#include "../cpu/im2col_panels.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"
#ifdef CONVKIT_CUDA
#include "../cuda/conv.h"
#include "../cuda/im2col.h"
#endif

namespace ck {

namespace {

// Whatever reaches here (TypeScript bounds every value to 2^24, lib/ops/validate.ts), the
// kernels' index arithmetic must stay exact: values in [0, 2^31), padded extents and dilated
// kernel spans below 2^31 (CPU panels and CUDA index with 32 bits inside an image), one image's
// slice of every tensor below 2^31 elements, and whole-tensor counts below 2^62 (tensor()'s
// byte checks cannot wrap). Each failure names the op and the value.
Conv2dGeom readGeom(Args& a, size_t i) {
  std::vector<int64_t> v = a.ints(i, "geom");
  if (v.size() != 16) throw Error(Code::Arg, std::string(a.op()) + ": 'geom' must hold 16 integers");
  static const char* names[16] = {"N",  "C",  "H",  "W",  "OC", "KH", "KW", "SH",
                                  "SW", "PH", "PW", "DH", "DW", "OH", "OW", "groups"};
  constexpr int64_t k31 = int64_t(1) << 31;
  for (size_t k = 0; k < 16; k++)
    if (v[k] < 0 || v[k] >= k31)
      throw Error(Code::Arg, std::string(a.op()) + ": geometry " + names[k] + " = " + std::to_string(v[k]) +
                                 " is outside [0, 2^31)");
  Conv2dGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  const bool positive = g.C > 0 && g.H > 0 && g.W > 0 && g.OC > 0 && g.KH > 0 && g.KW > 0 && g.SH > 0 && g.SW > 0 &&
                        g.DH > 0 && g.DW > 0 && g.OH > 0 && g.OW > 0 && g.groups > 0;
  // Every term below is a product or sum of two values < 2^31: exact in int64.
  const bool spans =
      g.H + 2 * g.PH < k31 && g.W + 2 * g.PW < k31 && g.DH * (g.KH - 1) + 1 < k31 && g.DW * (g.KW - 1) + 1 < k31;
  const bool consistent = positive && spans && g.C % g.groups == 0 && g.OC % g.groups == 0 &&
                          g.OH == convOutputSize(g.H, g.KH, g.SH, g.PH, g.DH) &&
                          g.OW == convOutputSize(g.W, g.KW, g.SW, g.PW, g.DW);
  if (!consistent) throw Error(Code::Arg, std::string(a.op()) + ": inconsistent convolution geometry");
  const int64_t perImage[] = {a.product({g.C, g.H, g.W}, "the input image"),
                              a.product({g.OC, g.OH, g.OW}, "the output image"),
                              a.product({g.C, g.KH, g.KW, g.OH, g.OW}, "one image's columns"),
                              a.product({g.OC, g.Cg(), g.KH, g.KW}, "the weight")};
  for (int64_t n : perImage)
    if (n >= k31)
      throw Error(Code::Shape, std::string(a.op()) + ": " + std::to_string(n) +
                                   " elements in one image's slice of a tensor, above the bound 2^31 - 1");
  a.product({g.N, perImage[2]}, "the columns");  // the largest whole-tensor count
  return g;
}

// Element counts of a geometry readGeom accepted: each below 2^62, no overflow.
int64_t xElems(const Conv2dGeom& g) { return g.N * g.C * g.H * g.W; }
int64_t yElems(const Conv2dGeom& g) { return g.N * g.OC * g.OH * g.OW; }
int64_t wElems(const Conv2dGeom& g) { return g.OC * g.Kg(); }
int64_t colElems(const Conv2dGeom& g) { return g.N * g.C * g.KHW() * g.OHW(); }

// im2col(stream, x, cols, geom): cols [N, C*KH*KW, OH*OW]
Napi::Value Im2col(const Napi::CallbackInfo& info) {
  Args a(info, "im2col");
  Device& dev = a.device(0);
  const Conv2dGeom g = readGeom(a, 3);
  TensorRef x = a.f32(1, "x", xElems(g)), cols = a.f32(2, "cols", colElems(g));
  dispatch(dev, "im2col", [=](auto& kc) { im2col(kc, x.f32(), g, cols.f32()); });
  return info.Env().Undefined();
}

// col2im(stream, cols, x, geom): adds cols [N, C*KH*KW, OH*OW] into x [N, C, H, W]
Napi::Value Col2im(const Napi::CallbackInfo& info) {
  Args a(info, "col2im");
  Device& dev = a.device(0);
  const Conv2dGeom g = readGeom(a, 3);
  TensorRef cols = a.f32(1, "cols", colElems(g)), x = a.f32(2, "x", xElems(g));
  dispatch(dev, "col2im", [=](auto& kc) { col2im(kc, cols.f32(), g, x.f32()); });
  return info.Env().Undefined();
}

// conv2dForward(stream, x, w, bias|null, mask|null, y, geom, relu?): relu applies max(0, .) in the
// kernel's own output pass.
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2d");
  Device& dev = a.device(0);
  const Conv2dGeom g = readGeom(a, 6);
  TensorRef x = a.f32(1, "x", xElems(g)), w = a.f32(2, "w", wElems(g));
  TensorRef bias = a.optF32(3, "bias", g.OC), mask = a.optF32(4, "mask", a.product({g.OC, g.Cg()}, "mask"));
  TensorRef y = a.f32(5, "y", yElems(g));
  const bool relu = a.flag(7);
  dispatch(dev, relu ? "conv2dRelu" : "conv2d", [=](auto& kc) {
    const float* b = bias.storage ? bias.f32() : nullptr;
    const float* m = mask.storage ? mask.f32() : nullptr;
    if (relu) conv2dForwardRelu(kc, x.f32(), w.f32(), b, m, g, y.f32());
    else conv2dForward(kc, x.f32(), w.f32(), b, m, g, y.f32());
  });
  return info.Env().Undefined();
}

// conv2dMaxPool2x2(stream, x, w, bias|null, mask|null, y, geom, relu?): y [N, OC, OH / 2, OW / 2] =
// the 2x2 / 2 max pool of conv2d (through the ReLU when relu is set). Inference's fusion exists
// on CPU streams only (lib/ops/conv.ts runs the two ops elsewhere), so it runs the CPU kernel
// directly.
Napi::Value Conv2dMaxPool2x2(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dMaxPool2x2");
  a.cpuOnly(0, "the fused max pool");
  Device& dev = a.device(0);
  const Conv2dGeom g = readGeom(a, 6);
  TensorRef x = a.f32(1, "x", xElems(g)), w = a.f32(2, "w", wElems(g));
  TensorRef bias = a.optF32(3, "bias", g.OC), mask = a.optF32(4, "mask", a.product({g.OC, g.Cg()}, "mask"));
  TensorRef y = a.f32(5, "y", a.product({g.N, g.OC, g.OH / 2, g.OW / 2}, "y"));
  const bool relu = a.flag(7);
  dev.run(relu ? "conv2dReluMaxPool" : "conv2dMaxPool", [=] {
    cpu::conv2dForwardMaxPool2x2(x.f32(), w.f32(), bias.storage ? bias.f32() : nullptr,
                                 mask.storage ? mask.f32() : nullptr, g, relu, y.f32());
  });
  return info.Env().Undefined();
}

// conv2dBackward(stream, dy, x, w, mask|null, dx|null, dw, db|null, geom, reluInput)
Napi::Value Conv2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackward");
  Device& dev = a.device(0);
  const Conv2dGeom g = readGeom(a, 8);
  TensorRef dy = a.f32(1, "dy", yElems(g)), x = a.f32(2, "x", xElems(g)), w = a.f32(3, "w", wElems(g));
  TensorRef mask = a.optF32(4, "mask", a.product({g.OC, g.Cg()}, "mask")), dx = a.optF32(5, "dx", xElems(g));
  TensorRef dw = a.f32(6, "dw", wElems(g)), db = a.optF32(7, "db", g.OC);
  const bool reluInput = a.flag(9);
  dispatch(dev, "conv2dBackward", [=](auto& kc) {
    conv2dBackward(kc, dy.f32(), x.f32(), w.f32(), mask.storage ? mask.f32() : nullptr, g,
                   dx.storage ? dx.f32() : nullptr, dw.f32(), db.storage ? db.f32() : nullptr, reluInput);
  });
  return info.Env().Undefined();
}

// convScratchBytes(bytes?): the cap on one conv call's scratch; with an argument, sets it and
// returns the previous cap. Ops already queued use the cap in force when they run.
Napi::Value ConvScratchBytes(const Napi::CallbackInfo& info) {
  Args a(info, "convScratchBytes");
  if (a.length() == 0 || info[0].IsUndefined()) return Napi::Number::New(info.Env(), double(cpu::convScratchBytes()));
  const int64_t bytes = a.count(0, "bytes");
  if (bytes < 1) throw Error(Code::Arg, "convScratchBytes: 'bytes' must be >= 1");
  return Napi::Number::New(info.Env(), double(cpu::setConvScratchBytes(bytes)));
}

// convChunkImages(geom, forward?): images per chunk that conv2dBackward (or, with forward
// true, conv2d) uses for this geometry.
Napi::Value ConvChunkImages(const Napi::CallbackInfo& info) {
  Args a(info, "convChunkImages");
  const bool forward = info.Length() > 1 && a.flag(1);
  return Napi::Number::New(info.Env(), double(cpu::conv2dImagesPerChunk(readGeom(a, 0), forward)));
}

// convFastPath(name?): the small-convolution fast path in use ("avx512", "portable" or "off");
// with "off" every convolution takes im2col + GEMM, with "auto" the fast path is back (its
// instruction set is the isa binding's). Tests run both.
Napi::Value ConvFastPath(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Error(Code::Arg, "convFastPath: 'name' must be a string");
    const std::string why = cpu::convFastPathSet(info[0].As<Napi::String>().Utf8Value());
    if (!why.empty()) throw Error(Code::Arg, "convFastPath: " + why);
  }
  return Napi::String::New(info.Env(), cpu::convFastPathName());
}

// convPackedColumns(on?): whether conv2d's forward packs its image columns straight into the
// GEMM's panels (true, the default) or goes through an im2col buffer; with a boolean switches
// first. Tests compare the two.
Napi::Value ConvPackedColumns(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsBoolean()) throw Error(Code::Arg, "convPackedColumns: 'on' must be a boolean");
    cpu::setConvPackedColumns(info[0].As<Napi::Boolean>().Value());
  }
  return Napi::Boolean::New(info.Env(), cpu::convPackedColumns());
}

}  // namespace

void registerConv(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "im2col", Im2col);
  CK_EXPORT(exports, "col2im", Col2im);
  CK_EXPORT(exports, "conv2dForward", Conv2dForward);
  CK_EXPORT(exports, "conv2dMaxPool2x2", Conv2dMaxPool2x2);
  CK_EXPORT(exports, "conv2dBackward", Conv2dBackward);
  CK_EXPORT(exports, "convScratchBytes", ConvScratchBytes);
  CK_EXPORT(exports, "convChunkImages", ConvChunkImages);
  CK_EXPORT(exports, "convFastPath", ConvFastPath);
  CK_EXPORT(exports, "convPackedColumns", ConvPackedColumns);
}

}  // namespace ck
