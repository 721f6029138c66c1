#include "context.h"

#include <mutex>
#include <vector>

#include "../core/errors.h"
#include "cublas_loader.h"
#include "cuda_check.h"

namespace ck::cuda {

Ctx::Ctx(int device) : device_(device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

Ctx::~Ctx() {
  // Best effort: a context is destroyed only by the harness at exit; errors are ignored.
  cudaSetDevice(device_);
  if (blas_) cublas().destroy(blas_);
  if (fault_) cudaFree(fault_);
  if (stream_) cudaStreamDestroy(stream_);
}

void Ctx::makeCurrent() const { check(cudaSetDevice(device_), "cudaSetDevice"); }

blas::Handle Ctx::blasHandle() {
  if (blas_) return blas_;
  const Cublas& lib = cublas();
  makeCurrent();
  blas::Handle h = nullptr;
  blas::Status s = lib.create(&h);
  if (s != blas::Status(0)) throw Error(Code::Cuda, "cublasCreate: " + cublasStatusName(s));
  s = lib.setStream(h, stream_);
  if (s != blas::Status(0)) {
    lib.destroy(h);
    throw Error(Code::Cuda, "cublasSetStream: " + cublasStatusName(s));
  }
  // Start from the default (pedantic fp32) mode; applyMathMode switches when tf32 is asked for.
  lib.setMathMode(h, blas::kDefaultMath);
  blas_ = h;
  blasTf32_ = false;
  return blas_;
}

void applyMathMode(Ctx& ctx) {
  blas::Handle h = ctx.blasHandle();
  if (ctx.blasTf32_ == ctx.tf32) return;
  blas::Status s = cublas().setMathMode(h, ctx.tf32 ? blas::kTf32Math : blas::kDefaultMath);
  if (s != blas::Status(0)) throw Error(Code::Cuda, "cublasSetMathMode: " + cublasStatusName(s));
  ctx.blasTf32_ = ctx.tf32;
}

int* Ctx::faultWord() {
  if (fault_) return fault_;
  makeCurrent();
  check(cudaMalloc(reinterpret_cast<void**>(&fault_), 2 * sizeof(int)), "cudaMalloc(fault word)");
  check(cudaMemsetAsync(fault_, 0, 2 * sizeof(int), stream_), "cudaMemset(fault word)");
  return fault_;
}

void Ctx::synchronize(const char* op) {
  makeCurrent();
  check(cudaStreamSynchronize(stream_), op);
  if (!fault_) return;
  int word[2] = {0, 0};
  check(cudaMemcpy(word, fault_, sizeof(word), cudaMemcpyDeviceToHost), "reading the fault word");
  if (word[0] == 0) return;
  // On this stream: a plain cudaMemset runs on the legacy stream, which a non-blocking stream
  // does not wait for, so a later kernel's fault could land before the clear.
  check(cudaMemsetAsync(fault_, 0, sizeof(word), stream_), "clearing the fault word");
  check(cudaStreamSynchronize(stream_), "clearing the fault word");
  throw faultError(op, word);
}

Error faultError(const char* op, const int word[2]) {
  switch (KernelFault(word[0])) {
    case KernelFault::LabelOutOfRange:
      return Error(Code::Arg, std::string(op) + ": a label at row " + std::to_string(word[1]) + " is out of range");
    case KernelFault::ArgmaxOutOfRange:
      return Error(Code::Arg,
                   std::string(op) + ": argmax at output " + std::to_string(word[1]) + " lies outside the input plane");
    default: return Error(Code::Internal, std::string(op) + ": unknown kernel fault " + std::to_string(word[0]));
  }
}

Ctx& deviceContext(int device) {
  static std::mutex mu;
  static std::vector<Ctx*>* contexts = new std::vector<Ctx*>();
  std::lock_guard<std::mutex> lk(mu);
  std::string why;
  int n = deviceCount(&why);
  if (device < 0 || device >= n)
    throw Error(n == 0 ? Code::NoCuda : Code::Arg,
                "cuda:" + std::to_string(device) + " does not exist" +
                    (n == 0 ? " (no CUDA device: " + why + ")" : " (" + std::to_string(n) + " devices)"));
  if (contexts->size() < size_t(n)) contexts->resize(size_t(n), nullptr);
  Ctx*& c = (*contexts)[size_t(device)];
  if (!c) c = new Ctx(device);
  return *c;
}

int deviceCount(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  if (n == 0 && why) *why = "cudaGetDeviceCount returned 0";
  return n;
}

}  // namespace ck::cuda
