// The gemm ops (to be filled in).
export {};
