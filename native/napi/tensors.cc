// Tensor storage from JS: allocate, copy in, copy across devices, view, release; memory statistics; pool info.
#include <cstring>
#include <memory>
#include <vector>

#include "../core/allocator.h"
#include "../core/scratch.h"
#include "../core/storage.h"
#include "../core/thread_pool.h"
#include "../cpu/elementwise.h"
#include "args.h"
#include "errors_napi.h"
#include "families.h"

namespace ck {

namespace {

// alloc(stream, bytes) -> handle. The bytes are uninitialised: ops that need zeros fill them.
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Args a(info, "alloc");
  Device& dev = a.device(0);
  size_t bytes = size_t(a.count(1, "bytes"));
  return makeHandle(info.Env(), dev.alloc(bytes), true);
}

// fromBytes(stream, typedArray) -> handle holding a copy (on a GPU: copied in stream order).
// The bytes are read through napi_get_typedarray_info, which works for an ArrayBuffer and a
// SharedArrayBuffer alike (napi_get_arraybuffer_info refuses the latter): a shared array is
// copied like any other, as it is at that instant.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Args a(info, "fromBytes");
  Device& dev = a.device(0);
  if (!info[1].IsTypedArray()) throw Error(Code::Arg, "fromBytes: 'data' must be a typed array");
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(info.Env(), info[1], &type, &length, &data, &ab, &offset) != napi_ok)
    throw Error(Code::Arg, "fromBytes: 'data' could not be read as a typed array");
  const size_t bytes = info[1].As<Napi::TypedArray>().ByteLength();
  if (bytes > 0 && data == nullptr) throw Error(Code::Arg, "fromBytes: 'data' has no backing store (detached?)");
  return makeHandle(info.Env(), dev.upload(data, bytes), true);
}

// copyTo(stream, handle, dstStream) -> a handle on dstStream's device holding a copy of the
// tensor's bytes (tensor.to(device)). Queued through the device contract (device.h copyFrom):
// after the writes already queued on the source, before the ops queued later on the
// destination, and never waiting on the JS thread. The copy holds its own references, so the
// source may be disposed at once.
Napi::Value CopyTo(const Napi::CallbackInfo& info) {
  Args a(info, "copyTo");
  Device& src = a.device(0);
  TensorRef from = a.tensor(1, "tensor", 0);
  Device& dst = deviceOf(a.i64(2, "dstStream"), "copyTo");
  TensorRef to = dst.alloc(from.bytes);
  dst.copyFrom(src, from, to);
  return makeHandle(info.Env(), std::move(to), true);
}

// view(handle, byteOffset, bytes) -> a handle sharing the storage (reshape, flat parameters).
Napi::Value View(const Napi::CallbackInfo& info) {
  Args a(info, "view");
  TensorRef base = a.tensor(0, "tensor", 0);
  size_t off = size_t(a.count(1, "byteOffset")), bytes = size_t(a.count(2, "bytes"));
  if (off + bytes > base.bytes)
    throw Error(Code::Shape, "view: bytes [" + std::to_string(off) + ", " + std::to_string(off + bytes) +
                                 ") outside a tensor of " + std::to_string(base.bytes) + " bytes");
  TensorRef r{base.storage, base.offset + off, bytes};
  return makeHandle(info.Env(), std::move(r), false);
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  releaseHandle(info[0]);
  return info.Env().Undefined();
}

Napi::Value IsLive(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(
      info.Env(), isHandle(info[0]) && info[0].As<Napi::External<HandleBox>>().Data()->ref.storage != nullptr);
}

// memoryStats(kind, index) -> { tensors, bytes } for one device, plus the host pool's figures.
Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Args a(info, "memoryStats");
  int kind = int(a.count(0, "kind")), idx = int(a.count(1, "index"));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  LiveCounter& c = liveCounter(kind == 1 ? DeviceKind::Cuda : DeviceKind::Cpu, idx);
  o.Set("storages", double(c.count.load()));
  o.Set("bytes", double(c.bytes.load()));
  AllocatorStats s = hostAllocator().stats();
  Napi::Object pool = Napi::Object::New(env);
  pool.Set("liveBlocks", double(s.liveBlocks));
  pool.Set("liveBytes", double(s.liveBytes));
  pool.Set("cachedBytes", double(s.cachedBytes));
  pool.Set("peakBytes", double(s.peakBytes));
  pool.Set("osAllocs", double(s.osAllocs));
  o.Set("hostPool", pool);
  o.Set("reportedToV8", double(reportedExternalBytes()));
  return o;
}

Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  hostAllocator().resetPeak();
  return info.Env().Undefined();
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  hostAllocator().emptyCache();
  return info.Env().Undefined();
}

// hostBlockOffsets(count, bytes) -> each block's address modulo 2 MiB, for `count` blocks of
// `bytes` taken from the host pool at once and then given back: how the pool places large
// blocks (allocator.cc's colours) is tested through this, not read off timings.
Napi::Value HostBlockOffsets(const Napi::CallbackInfo& info) {
  Args a(info, "hostBlockOffsets");
  const int64_t count = a.count(0, "count"), bytes = a.count(1, "bytes");
  if (count > 1024 || bytes > (int64_t(1) << 30))
    throw Error(Code::Arg, "hostBlockOffsets: at most 1024 blocks of at most 1 GiB");
  // Held at once (each Scratch returns its block to the pool when the vector goes).
  std::vector<std::unique_ptr<Scratch>> blocks;
  Napi::Array out = Napi::Array::New(info.Env(), size_t(count));
  for (int64_t i = 0; i < count; i++) {
    blocks.push_back(std::make_unique<Scratch>(size_t(bytes)));
    out.Set(uint32_t(i), double(reinterpret_cast<uintptr_t>(blocks.back()->as<void>()) & ((uintptr_t(2) << 20) - 1)));
  }
  return out;
}

// profile(on?) -> [{ op, calls, ms }] accumulated since the previous call; on switches it.
Napi::Value Profile(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsBoolean()) setProfiling(info[0].As<Napi::Boolean>().Value());
  Napi::Env env = info.Env();
  std::vector<OpProfile> rows = takeProfile();
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", rows[i].op);
    o.Set("calls", double(rows[i].calls));
    o.Set("ms", rows[i].ms);
    out.Set(uint32_t(i), o);
  }
  return out;
}

// firstNonFinite(float32Array) -> the index of its first NaN or infinity, or -1. On the calling
// thread: it reads a caller's array (an ArrayBuffer's or a SharedArrayBuffer's) at the call.
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Error(Code::Arg, "firstNonFinite: 'data' must be a Float32Array");
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(info.Env(), info[0], nullptr, &length, &data, nullptr, nullptr) != napi_ok)
    throw Error(Code::Arg, "firstNonFinite: cannot read the array's memory");
  return Napi::Number::New(info.Env(), double(cpu::firstNonFinite(static_cast<const float*>(data), int64_t(length))));
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), threadPool().size()); }

}  // namespace

void registerTensors(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "alloc", Alloc);
  CK_EXPORT(exports, "fromBytes", FromBytes);
  CK_EXPORT(exports, "copyTo", CopyTo);
  CK_EXPORT(exports, "view", View);
  CK_EXPORT(exports, "release", Release);
  CK_EXPORT(exports, "isLive", IsLive);
  CK_EXPORT(exports, "memoryStats", MemoryStats);
  CK_EXPORT(exports, "resetPeak", ResetPeak);
  CK_EXPORT(exports, "emptyCache", EmptyCache);
  CK_EXPORT(exports, "hostBlockOffsets", HostBlockOffsets);
  CK_EXPORT(exports, "threads", Threads);
  CK_EXPORT(exports, "firstNonFinite", FirstNonFinite);
  CK_EXPORT(exports, "profile", Profile);
}

}  // namespace ck
