// CPU detection and the active instruction-set level (isa.h). The only __builtin_cpu_supports
// calls of the addon are here.
#include "isa.h"

#include <atomic>
#include <cstdlib>

namespace ck::cpu {

namespace {

Isa detect() {
#if defined(__x86_64__) || defined(_M_X64)
  // Every AVX-512 kernel here also uses FMA (gemm's micro-kernel); the others need avx512f only.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kPortable;
}

bool parse(const std::string& name, Isa* out) {
  if (name == "avx512") *out = Isa::kAvx512;
  else if (name == "avx2") *out = Isa::kAvx2;
  else if (name == "portable") *out = Isa::kPortable;
  else if (name == "auto") *out = cpuIsa();
  else return false;
  return true;
}

// The environment's choice, if it names a level this CPU runs; an unknown or unsupported value
// falls back to the detected level (as CONVKIT_GEMM_KERNEL always did), since a load-time knob
// has no caller to throw to. backends() shows the level in force.
Isa initial() {
  const char* env = std::getenv("CONVKIT_ISA");
  if (!env || !*env) env = std::getenv("CONVKIT_GEMM_KERNEL");
  Isa want;
  if (env && parse(env, &want) && want <= cpuIsa()) return want;
  return cpuIsa();
}

std::atomic<int>& active() {
  static std::atomic<int> level{int(initial())};
  return level;
}

}  // namespace

Isa cpuIsa() {
  static const Isa best = detect();
  return best;
}

Isa activeIsa() { return Isa(active().load(std::memory_order_relaxed)); }

std::string setIsa(const std::string& name) {
  Isa want;
  if (!parse(name, &want)) return "unknown ISA '" + name + "' (expected avx512, avx2, portable or auto)";
  if (want > cpuIsa())
    return std::string("this CPU cannot run '") + name + "' (it runs up to " + isaName(cpuIsa()) + ")";
  active().store(int(want), std::memory_order_relaxed);
  return "";
}

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    case Isa::kPortable: return "portable";
  }
  return "portable";
}

}  // namespace ck::cpu
