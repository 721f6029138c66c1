// The one place that decides which instruction set the CPU kernels use. Every family (gemm,
// direct conv, im2col rows and col2im, im2col panels, LRN, pooling, bf16 linear) asks
// activeIsa() when a call starts and picks its path from the answer, so one knob switches them
// all:
//   - CONVKIT_ISA=avx512|avx2|portable at load (CONVKIT_GEMM_KERNEL, its old name, is read when
//     CONVKIT_ISA is unset), else the best level this CPU runs;
//   - setIsa() at run time (the `isa` binding; lib/isa.ts refuses while a CPU stream is busy, so
//     that no op runs half on one path and half on another).
// Levels are ordered: a family without a build for the active level takes the best one below it
// (only gemm has an AVX2 build; the others run their portable loops under avx2).
#pragma once
#include <string>

namespace ck::cpu {

enum class Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level this CPU (and this build) can run: detected once.
Isa cpuIsa();
// The level the kernels dispatch on now. One relaxed atomic load: cheap enough for every call.
Isa activeIsa();
inline bool activeAvx512() { return activeIsa() >= Isa::kAvx512; }
// Makes `name` ("avx512", "avx2", "portable", or "auto" = cpuIsa()) the active level. Returns
// an empty string, or why the switch was refused (unknown name, CPU lacks the level); a refused
// switch changes nothing.
std::string setIsa(const std::string& name);
const char* isaName(Isa isa);

}  // namespace ck::cpu
