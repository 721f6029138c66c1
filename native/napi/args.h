// Reading binding arguments with the op's name in every message. TypeScript validates shapes
// before calling; these checks exist only so that a wrong call can never read or write out of
// bounds (DESIGN.md: C++ checks only the invariants that prevent a crash).
#pragma once
#include <napi.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/storage.h"
#include "../core/stream.h"
#include "handle.h"
#include "device_of.h"
#include "dispatch.h"

namespace ck {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  const char* op() const { return op_; }

  // The device the op runs on. Read it before the tensors: each tensor read afterwards must live
  // on it (a CPU kernel handed device memory, or a GPU handed another GPU's, would crash).
  Device& device(size_t i) {
    device_ = &deviceOf(i64(i, "stream"), op_);
    return *device_;
  }
  // A CPU stream, for features that exist only on CPU streams so far (`what`: "capture"): the
  // binding says so here instead of dispatching (ND_ARG on any other device).
  CpuStream& cpuOnly(size_t i, const char* what) {
    Device& d = device(i);
    if (d.kind() != DeviceKind::Cpu)
      throw Error(Code::Arg,
                  std::string(op_) + ": " + what + " on " + d.name() + " is not supported yet (CPU streams only)");
    return static_cast<CpuDevice&>(d).stream();
  }

  // A tensor argument that must hold at least `minBytes` bytes.
  TensorRef tensor(size_t i, const char* what, size_t minBytes) {
    TensorRef& r = handleRef(info_[i], op_, what);
    if (device_ && !device_->holds(*r.storage))
      throw Error(Code::Arg, std::string(op_) + ": '" + what + "' is on " + deviceName(*r.storage) +
                                 " but the op runs on " + device_->name() + " (copy it with tensor.to(device) first)");
    if (r.bytes < minBytes)
      throw Error(Code::Shape, std::string(op_) + ": '" + what + "' holds " + std::to_string(r.bytes) +
                                   " bytes, the op needs " + std::to_string(minBytes));
    return r;
  }
  TensorRef f32(size_t i, const char* what, int64_t elements) { return tensor(i, what, bytes4(what, elements)); }
  TensorRef i32(size_t i, const char* what, int64_t elements) { return tensor(i, what, bytes4(what, elements)); }
  // null or undefined gives an empty ref (storage == nullptr).
  TensorRef optF32(size_t i, const char* what, int64_t elements) {
    if (info_[i].IsNull() || info_[i].IsUndefined()) return TensorRef{};
    return f32(i, what, elements);
  }
  TensorRef optI32(size_t i, const char* what, int64_t elements) {
    if (info_[i].IsNull() || info_[i].IsUndefined()) return TensorRef{};
    return i32(i, what, elements);
  }

  int64_t i64(size_t i, const char* what) {
    if (!info_[i].IsNumber()) throw Error(Code::Arg, std::string(op_) + ": '" + what + "' must be a number");
    double d = info_[i].As<Napi::Number>().DoubleValue();
    // Range first: converting NaN or a double beyond int64 to int64_t is undefined behaviour.
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != double(int64_t(d)))
      throw Error(Code::Arg, std::string(op_) + ": '" + what + "' must be an integer, got " + std::to_string(d));
    return int64_t(d);
  }
  // A non-negative integer (sizes, counts).
  int64_t count(size_t i, const char* what) {
    int64_t v = i64(i, what);
    if (v < 0) throw Error(Code::Arg, std::string(op_) + ": '" + what + "' must be >= 0, got " + std::to_string(v));
    return v;
  }
  double f64(size_t i, const char* what) {
    if (!info_[i].IsNumber()) throw Error(Code::Arg, std::string(op_) + ": '" + what + "' must be a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }
  bool flag(size_t i) { return info_[i].ToBoolean().Value(); }
  // A uint64 seed passed as a number (< 2^53) or a bigint.
  uint64_t seed(size_t i, const char* what) {
    if (info_[i].IsBigInt()) {
      bool lossless;
      return info_[i].As<Napi::BigInt>().Uint64Value(&lossless);
    }
    return uint64_t(count(i, what));
  }
  // An array of integers (geometry).
  std::vector<int64_t> ints(size_t i, const char* what) {
    if (!info_[i].IsArray()) throw Error(Code::Arg, std::string(op_) + ": '" + what + "' must be an array");
    Napi::Array a = info_[i].As<Napi::Array>();
    std::vector<int64_t> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); k++) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber()) throw Error(Code::Arg, std::string(op_) + ": '" + what + "' must hold numbers");
      // Int64Value() would turn NaN into 0 and saturate or truncate others: refuse them instead.
      const double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != double(int64_t(d)))
        throw Error(Code::Arg, std::string(op_) + ": '" + what + "[" + std::to_string(k) +
                                   "]' must be an integer, got " + std::to_string(d));
      out[k] = int64_t(d);
    }
    return out;
  }
  // The product of non-negative sizes (an element count), refused with ND_SHAPE past 2^62 so
  // that it can neither overflow nor wrap the byte-size checks of tensor() (elements * 4).
  int64_t product(std::initializer_list<int64_t> dims, const char* what) const {
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d < 0) throw Error(Code::Shape, std::string(op_) + ": " + what + " has a negative size");
      if (d != 0 && n > (int64_t(1) << 62) / d)
        throw Error(Code::Shape, std::string(op_) + ": " + what + " has more than 2^62 elements");
      n *= d;
    }
    return n;
  }
  size_t length() const { return info_.Length(); }
  Napi::Env env() const { return info_.Env(); }

 private:
  // elements * 4 without wrapping: a negative or huge count (a product that overflowed in a
  // binding) must fail the size check, not pass it.
  size_t bytes4(const char* what, int64_t elements) const {
    if (elements < 0 || elements > (int64_t(1) << 61))
      throw Error(Code::Shape, std::string(op_) + ": '" + what + "' would need " + std::to_string(elements) +
                                   " elements, outside [0, 2^61]");
    return size_t(elements) * 4;
  }
  static std::string deviceName(const Storage& s) {
    return std::string(s.kind == DeviceKind::Cuda ? "cuda:" : "cpu:") + std::to_string(s.deviceIndex);
  }

  const Napi::CallbackInfo& info_;
  const char* op_;
  Device* device_ = nullptr;
};

}  // namespace ck
