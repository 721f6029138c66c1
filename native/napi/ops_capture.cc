// Bindings of stream capture (native/core/stream.h): record a sequence of ops once, replay it as
// one queued op. The replay also copies fresh inputs into the captured input tensors before the
// ops, and the captured outputs into fresh tensors after them, inside that same op.
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/scratch.h"
#include "args.h"
#include "errors_napi.h"
#include "waits.h"

namespace ck {

// Called from registerElementwise until addon.cc's list (not this file's owner) names it.

namespace {

const napi_type_tag kPlanTag = {0x636f6e766b697421ULL, 0x706c616eULL};  // "convkit!" "plan"

using Plan = std::shared_ptr<CapturedOps>;

Plan& planOf(const Napi::Value& v, const char* op) {
  if (!v.IsExternal() || !v.As<Napi::External<Plan>>().CheckTypeTag(&kPlanTag))
    throw Error(Code::Arg, std::string(op) + ": 'plan' is not a captured plan");
  Plan* p = v.As<Napi::External<Plan>>().Data();
  if (!*p) throw Error(Code::Disposed, std::string(op) + ": the plan was disposed");
  return *p;
}

// captureBegin(stream): ops queued on the stream from now on are recorded, not run.
Napi::Value CaptureBegin(const Napi::CallbackInfo& info) {
  Args a(info, "captureBegin");
  a.cpuOnly(0, "capture").beginCapture();
  return info.Env().Undefined();
}

// captureEnd(stream) -> plan: the ops recorded since captureBegin.
Napi::Value CaptureEnd(const Napi::CallbackInfo& info) {
  Args a(info, "captureEnd");
  auto* box = new Plan(a.cpuOnly(0, "capture").endCapture());
  auto ext = Napi::External<Plan>::New(info.Env(), box, [](Napi::Env, Plan* p) { delete p; });
  ext.TypeTag(&kPlanTag);
  return ext;
}

// capturedOps(plan) -> number of recorded ops.
Napi::Value CapturedOpCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(planOf(info[0], "capturedOps")->ops.size()));
}

// captureRelease(plan): drops the recorded ops (and the tensors they hold) once queued replays
// are done with them (each replay holds its own reference).
Napi::Value CaptureRelease(const Napi::CallbackInfo& info) {
  if (info[0].IsExternal() && info[0].As<Napi::External<Plan>>().CheckTypeTag(&kPlanTag))
    info[0].As<Napi::External<Plan>>().Data()->reset();
  return info.Env().Undefined();
}

struct Copy {
  TensorRef src, dst;
};

// Pairs of handles [src0, dst0, src1, dst1, ...] of equal byte sizes.
std::vector<Copy> copies(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsArray()) throw Error(Code::Arg, std::string("captureReplay: '") + what + "' must be an array");
  Napi::Array arr = info[i].As<Napi::Array>();
  if (arr.Length() % 2) throw Error(Code::Arg, std::string("captureReplay: '") + what + "' must hold pairs");
  std::vector<Copy> out;
  for (uint32_t k = 0; k < arr.Length(); k += 2) {
    TensorRef s = handleRef(arr.Get(k), "captureReplay", what), d = handleRef(arr.Get(k + 1), "captureReplay", what);
    // The replay memcpy()s on the CPU executor: device memory would crash it.
    if (s.storage->kind != DeviceKind::Cpu || d.storage->kind != DeviceKind::Cpu)
      throw Error(Code::Arg, std::string("captureReplay: '") + what + "' pair " + std::to_string(k / 2) +
                                 " is not in host memory (capture on cuda:N is not supported yet)");
    if (s.bytes != d.bytes)
      throw Error(Code::Shape, std::string("captureReplay: '") + what + "' pair " + std::to_string(k / 2) + " holds " +
                                   std::to_string(s.bytes) + " and " + std::to_string(d.bytes) + " bytes");
    out.push_back(Copy{s, d});
  }
  return out;
}

// captureReplay(stream, plan, inCopies, outCopies): one queued op that copies each
// inCopies pair src -> dst, runs the plan, then copies each outCopies pair src -> dst.
Napi::Value CaptureReplay(const Napi::CallbackInfo& info) {
  Args a(info, "captureReplay");
  CpuStream& s = a.cpuOnly(0, "capture");
  Plan plan = planOf(info[1], "captureReplay");
  std::vector<Copy> in = copies(info, 2, "inputs"), out = copies(info, 3, "outputs");
  s.enqueue("captureReplay", [plan, in, out] {
    for (const Copy& c : in) std::memcpy(c.dst.data(), c.src.data(), c.src.bytes);
    runCaptured(*plan);
    for (const Copy& c : out) std::memcpy(c.dst.data(), c.src.data(), c.src.bytes);
  });
  return info.Env().Undefined();
}

// A typed array argument of `bytes` bytes; its data pointer stays valid while the array is kept
// alive (promiseFromStream's `keep`): an ArrayBuffer's store does not move.
Napi::TypedArray typedArg(const Napi::CallbackInfo& info, size_t i, const char* what, napi_typedarray_type type,
                          size_t bytes, const char* typeName) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type)
    throw Error(Code::Arg, std::string("captureRun: '") + what + "' must be a " + typeName);
  Napi::TypedArray t = info[i].As<Napi::TypedArray>();
  if (t.ByteLength() < bytes)
    throw Error(Code::Shape, std::string("captureRun: '") + what + "' holds " + std::to_string(t.ByteLength()) +
                                 " bytes, " + std::to_string(bytes) + " are needed");
  return t;
}

// The array's first element. Asked of the typed array itself: a SharedArrayBuffer (the done flag)
// is not an ArrayBuffer to napi_get_arraybuffer_info.
void* typedData(const Napi::TypedArray& t) {
  void* data = nullptr;
  if (napi_get_typedarray_info(t.Env(), t, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok)
    throw Error(Code::Arg, "captureRun: cannot read a typed array's memory");
  return data;
}

// captureRun(stream, plan, input, recordedInput, recordedOutput, out, done, seq, borrow, capacity) ->
// Promise<void>: Predictor.run's one-call path. One queued op copies `input` into the recorded input, runs the plan,
// copies the recorded output straight into the caller's Float32Array `out`, and then stores `seq` into done[0]; the
// promise settles after it, as a read's does. `input` is a tensor, a Float32Array of the whole recorded input, or an
// array of rows (Float32Arrays of one sample each, at most `capacity` of them, the recorded batch): the rows are
// gathered into the recorded input and the rows after them zeroed. Arrays are copied now, at the call, or with
// `borrow` read by the op itself. The done flag lets the JS thread see the answer by polling, before the thread-safe
// function's wake-up reaches it: on a virtual machine an idle event loop takes tens of microseconds to wake, more
// than a small net's whole forward pass.
Napi::Value CaptureRun(const Napi::CallbackInfo& info) {
  Args a(info, "captureRun");
  CpuStream& s = a.cpuOnly(0, "capture");
  Device& dev = a.device(0);
  // A recorded captureRun would write into `out` at some later replay, long after the buffer
  // was let go.
  if (s.capturing())
    throw Error(Code::Arg, "captureRun: " + dev.name() + " is capturing; run a predictor outside capture");
  Plan plan = planOf(info[1], "captureRun");
  TensorRef dstIn = handleRef(info[3], "captureRun", "recordedInput");
  TensorRef srcOut = handleRef(info[4], "captureRun", "recordedOutput");
  if (dstIn.storage->kind != DeviceKind::Cpu || srcOut.storage->kind != DeviceKind::Cpu)
    throw Error(Code::Arg, "captureRun: the recorded tensors are not in host memory");
  std::shared_ptr<Scratch> hostIn;  // the input copied at the call, from the caching allocator
  size_t hostBytes = 0;             // what hostIn holds: the whole input, or the leading rows
  std::optional<TensorRef> tensorIn;
  const void* borrowedIn = nullptr;  // a caller's array read on the executor (kept alive below)
  std::vector<const void*> rows;     // borrowed rows, gathered on the executor
  size_t rowBytes = 0;
  std::vector<Napi::Object> keep;
  const bool borrow = a.flag(8);
  if (info[2].IsArray()) {
    // Rows: a server's queued samples, each in its own buffer, gathered off the JS thread (20 MB
    // for AlexNet at batch 32, which took tens of milliseconds there under load).
    Napi::Array list = info[2].As<Napi::Array>();
    const int64_t capacity = a.i64(9, "capacity");
    if (capacity < 1 || dstIn.bytes % size_t(capacity) != 0)
      throw Error(Code::Arg, "captureRun: 'capacity' " + std::to_string(capacity) +
                                 " does not divide the recorded input of " + std::to_string(dstIn.bytes) +
                                 " bytes into rows");
    rowBytes = dstIn.bytes / size_t(capacity);
    const uint32_t n = list.Length();
    if (n == 0 || n > uint64_t(capacity))
      throw Error(Code::Shape, "captureRun: 'input' has " + std::to_string(n) + " rows, the recording takes 1 to " +
                                   std::to_string(capacity));
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = list.Get(i);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw Error(Code::Arg, "captureRun: row " + std::to_string(i) + " of 'input' must be a Float32Array");
      Napi::TypedArray t = v.As<Napi::TypedArray>();
      if (t.ByteLength() != rowBytes)
        throw Error(Code::Shape, "captureRun: row " + std::to_string(i) + " of 'input' holds " +
                                     std::to_string(t.ByteLength()) + " bytes, a recorded row " +
                                     std::to_string(rowBytes));
      rows.push_back(typedData(t));
      keep.push_back(t);
    }
    if (!borrow) {
      hostBytes = size_t(n) * rowBytes;
      hostIn = std::make_shared<Scratch>(hostBytes);
      for (uint32_t i = 0; i < n; i++) std::memcpy(hostIn->as<char>() + i * rowBytes, rows[i], rowBytes);
      rows.clear();
      keep.clear();
    }
  } else if (info[2].IsTypedArray()) {
    Napi::TypedArray t = typedArg(info, 2, "input", napi_float32_array, dstIn.bytes, "Float32Array");
    if (t.ByteLength() != dstIn.bytes)
      throw Error(Code::Shape, "captureRun: 'input' holds " + std::to_string(t.ByteLength()) +
                                   " bytes, the recorded input " + std::to_string(dstIn.bytes));
    if (borrow) {
      // Borrowed: the caller promises not to change the array until the promise settles, which
      // saves a copy on the JS thread (20 MB for AlexNet at batch 32).
      borrowedIn = typedData(t);
      keep.push_back(t);
    } else {
      hostBytes = dstIn.bytes;
      hostIn = std::make_shared<Scratch>(hostBytes);
      std::memcpy(hostIn->as<char>(), typedData(t), hostBytes);
    }
  } else {
    TensorRef r = a.tensor(2, "input", 0);
    if (r.storage->kind != DeviceKind::Cpu) throw Error(Code::Arg, "captureRun: 'input' is not in host memory");
    if (r.bytes != dstIn.bytes)
      throw Error(Code::Shape, "captureRun: 'input' holds " + std::to_string(r.bytes) + " bytes, the recorded input " +
                                   std::to_string(dstIn.bytes));
    tensorIn = r;
  }
  Napi::TypedArray out = typedArg(info, 5, "out", napi_float32_array, srcOut.bytes, "Float32Array");
  Napi::TypedArray done = typedArg(info, 6, "done", napi_int32_array, 4, "Int32Array");
  const int32_t seq = int32_t(a.i64(7, "seq"));
  void* outPtr = typedData(out);
  auto* donePtr = static_cast<int32_t*>(typedData(done));
  keep.push_back(out);
  keep.push_back(done);
  return promiseFromStream(info.Env(), keep, [&](Settle settle) {
    s.enqueue("captureRun", [&s, plan, hostIn, hostBytes, tensorIn, borrowedIn, rows = std::move(rows), rowBytes, dstIn,
                             srcOut, outPtr, donePtr, seq] {
      char* dst = static_cast<char*>(dstIn.data());
      size_t written = dstIn.bytes;
      if (!rows.empty()) {
        for (size_t i = 0; i < rows.size(); i++) std::memcpy(dst + i * rowBytes, rows[i], rowBytes);
        written = rows.size() * rowBytes;
      } else if (hostIn) {
        std::memcpy(dst, hostIn->as<char>(), hostBytes);
        written = hostBytes;
      } else {
        std::memcpy(dst, borrowedIn ? borrowedIn : tensorIn->data(), dstIn.bytes);
      }
      // Rows past the given ones: zero, so that a padded batch never reads an earlier run's rows.
      if (written < dstIn.bytes) std::memset(dst + written, 0, dstIn.bytes - written);
      runCaptured(*plan);
      std::memcpy(outPtr, srcOut.data(), srcOut.bytes);
      // Not over an earlier op's failure: the signal below reports that one.
      if (!s.failed()) __atomic_store_n(donePtr, seq, __ATOMIC_RELEASE);
    });
    // The op and its signal are queued together, so that a signal that cannot be queued never
    // leaves an op behind that writes into a buffer nobody keeps: signals never throw on a CPU
    // stream that accepted the op (capture state is the same for both).
    dev.signal([settle](std::optional<StreamError> err) { settle(std::move(err)); });
  });
}

}  // namespace

void registerCapture(Napi::Env, Napi::Object exports) {
  CK_EXPORT(exports, "captureBegin", CaptureBegin);
  CK_EXPORT(exports, "captureEnd", CaptureEnd);
  CK_EXPORT(exports, "capturedOps", CapturedOpCount);
  CK_EXPORT(exports, "captureRelease", CaptureRelease);
  CK_EXPORT(exports, "captureReplay", CaptureReplay);
  CK_EXPORT(exports, "captureRun", CaptureRun);
}

}  // namespace ck
