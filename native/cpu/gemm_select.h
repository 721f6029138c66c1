// Choosing the SGEMM micro-kernel. The default is the best one this CPU runs, or the one named
// by CONVKIT_GEMM_KERNEL=avx512|avx2|portable; tests and benchmarks may switch at run time.
#pragma once
#include <string>

namespace ck::cpu {

// Makes `name` ("avx512", "avx2", "portable" or "auto") the kernel of every later sgemm call.
// Returns an empty string, or why the switch was refused (unknown name, CPU lacks the ISA).
std::string sgemmSetKernel(const std::string& name);

}  // namespace ck::cpu
