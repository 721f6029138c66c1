// The OpenBLAS peer of bench/kernels/sgemm.mjs: times cblas_sgemm (row-major, no transposes,
// beta = 0) on the shapes given as arguments and prints one JSON line per shape. Compiled by the
// bench script at run time (g++ -O2 ... -lopenblas); not part of the package.
// Usage: openblas_sgemm M,N,K [M,N,K ...]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" char* openblas_get_corename(void);

static double nowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    long M = 0, N = 0, K = 0;
    if (std::sscanf(argv[i], "%ld,%ld,%ld", &M, &N, &K) != 3 || M <= 0 || N <= 0 || K <= 0) {
      std::fprintf(stderr, "openblas_sgemm: bad shape '%s' (want M,N,K)\n", argv[i]);
      return 2;
    }
    std::vector<float> A(size_t(M) * K), B(size_t(K) * N), C(size_t(M) * N);
    unsigned s = 12345;
    auto next = [&] { return (s = s * 1664525u + 1013904223u) / 4294967296.0f * 2.0f - 1.0f; };
    for (float& x : A) x = next();
    for (float& x : B) x = next();
    auto run = [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0f, A.data(), int(K), B.data(),
                  int(N), 0.0f, C.data(), int(N));
    };
    // Same protocol as bench/lib.mjs timeIt: 2 warm-ups, then at least 5 runs and 300 ms; median.
    run();
    run();
    std::vector<double> times;
    double start = nowMs();
    while (times.size() < 5 || nowMs() - start < 300) {
      double t0 = nowMs();
      run();
      times.push_back(nowMs() - t0);
      if (times.size() > 1000) break;
    }
    std::sort(times.begin(), times.end());
    std::printf("{\"corename\":\"%s\",\"threads\":%d,\"M\":%ld,\"N\":%ld,\"K\":%ld,\"ms\":%.4f,\"min_ms\":%.4f,\"runs\":%zu}\n",
                openblas_get_corename(), openblas_get_num_threads(), M, N, K, times[times.size() / 2], times[0],
                times.size());
    std::fflush(stdout);
  }
  return 0;
}
