// Helpers of the kernel-check harness: seeded host data, device buffers, and the comparison that
// prints one JSON line per check (ggml's test-backend-ops and llm.c's dev/cuda do the same:
// validate every GPU kernel against its CPU twin before anything is timed).
#pragma once
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../core/philox.h"
#include "../cuda_check.h"

namespace ck::check {

// Sizes arrive as int64 geometry; containers want size_t.
inline size_t sz(int64_t n) { return static_cast<size_t>(n); }

// Text safe inside a JSON string (error messages quote names and paths).
inline std::string jsonEscape(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += c;
  }
  return out;
}

inline int& failures() {
  static int n = 0;
  return n;
}

// Uniform in [lo, hi), the same numbers for the same seed on every run.
inline std::vector<float> randomVec(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * uniformFromWord(philoxWord(seed, 7, i));
  return v;
}

// A device copy of a host vector, freed with the object.
template <typename T>
class DevBuf {
 public:
  explicit DevBuf(size_t n) : n_(n) { cuda::check(cudaMalloc(reinterpret_cast<void**>(&p_), bytes()), "cudaMalloc"); }
  explicit DevBuf(const std::vector<T>& h) : DevBuf(h.size()) { upload(h); }
  ~DevBuf() { cudaFree(p_); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void upload(const std::vector<T>& h) {
    cuda::check(cudaMemcpy(p_, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
    // A pageable upload may still be in flight when cudaMemcpy returns, and the kernels run on a
    // non-blocking stream that does not wait for the legacy stream: wait here.
    cuda::check(cudaDeviceSynchronize(), "upload");
  }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    cuda::check(cudaMemcpy(h.data(), p_, bytes(), cudaMemcpyDeviceToHost), "download");
    return h;
  }
  T* get() const { return p_; }
  operator T*() const { return p_; }

 private:
  size_t bytes() const { return (n_ ? n_ : 1) * sizeof(T); }
  T* p_ = nullptr;
  size_t n_;
};

struct Tol {
  double atol, rtol;
  bool exact;  // bit-for-bit equality required (NaN == NaN)
};
constexpr Tol kExact{0, 0, true};
constexpr Tol kElementwise{1e-6, 1e-5, false};
constexpr Tol kReduction{1e-5, 1e-4, false};
constexpr Tol kGemm{1e-4, 1e-3, false};

inline bool sameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)); }

// Compares the GPU result with the CPU twin's and prints {"check", "shape", ...}.
template <typename T>
bool compare(const std::string& name, const std::string& shape, const std::vector<T>& cpu, const std::vector<T>& gpu,
             Tol tol) {
  double maxAbs = 0, maxRel = 0;
  int64_t worst = -1, mismatches = 0;
  bool identical = cpu.size() == gpu.size();
  for (size_t i = 0; i < cpu.size() && i < gpu.size(); i++) {
    double a = double(cpu[i]), b = double(gpu[i]);
    bool bits = sameBits(float(cpu[i]), float(gpu[i]));
    if (!bits) identical = false;
    bool nanMismatch = std::isnan(a) != std::isnan(b);
    double d = std::isnan(a) || std::isnan(b) ? (nanMismatch ? INFINITY : 0) : std::fabs(a - b);
    if (std::isinf(a) && std::isinf(b) && a == b) d = 0;
    double r = d / (std::fabs(a) > 1e-30 ? std::fabs(a) : 1e-30);
    bool ok = tol.exact ? bits : d <= tol.atol + tol.rtol * std::fabs(a);
    if (!ok) {
      mismatches++;
      if (worst < 0) worst = int64_t(i);
    }
    if (d > maxAbs) maxAbs = d;
    if (d > tol.atol && r > maxRel) maxRel = r;
  }
  bool pass = cpu.size() == gpu.size() && mismatches == 0;
  if (!pass) failures()++;
  std::printf(
      "{\"check\":\"%s\",\"shape\":\"%s\",\"n\":%zu,\"pass\":%s,\"identical\":%s,\"maxAbs\":%.3g,\"maxRel\":%.3g,"
      "\"atol\":%g,\"rtol\":%g,\"mismatches\":%lld",
      name.c_str(), jsonEscape(shape).c_str(), cpu.size(), pass ? "true" : "false", identical ? "true" : "false",
      maxAbs, maxRel, tol.atol, tol.rtol, (long long)mismatches);
  if (worst >= 0)
    std::printf(",\"first\":{\"index\":%lld,\"cpu\":%.9g,\"gpu\":%.9g}", (long long)worst, double(cpu[size_t(worst)]),
                double(gpu[size_t(worst)]));
  std::printf("}\n");
  std::fflush(stdout);
  return pass;
}

inline void report(const std::string& name, const std::string& shape, bool pass, const std::string& detail) {
  if (!pass) failures()++;
  std::printf("{\"check\":\"%s\",\"shape\":\"%s\",\"pass\":%s,\"detail\":\"%s\"}\n", name.c_str(), shape.c_str(),
              pass ? "true" : "false", jsonEscape(detail).c_str());
  std::fflush(stdout);
}

}  // namespace ck::check
