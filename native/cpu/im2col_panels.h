// The convolution's column matrix (im2col.h's layout) packed straight into SGEMM B panels
// (gemm.h's BPanelPacker), so the forward pass never writes the matrix out and reads it back:
// at AlexNet's shapes the im2col copy and the panel packing of its result were a quarter of an
// inference's time, the copy alone about 12%.
#pragma once
#include <cstdint>

#include "conv.h"
#include "im2col.h"

namespace ck::cpu {

// Rows [k0, k0+kc) x columns [n0, n0+cols) of the column matrix of block b (its images and
// channels; column j is image b.n0 + j / OHW, position j % OHW), as packed B panels of nr
// columns `stride` floats apart, columns past `cols` zero. The same values im2colBlock writes.
void im2colPanels(const float* x, const Conv2dGeom& g, const ColumnBlock& b, int64_t k0, int64_t kc, int64_t n0,
                  int64_t cols, int nr, float* dst, int64_t stride);

// The transposed matrix, for the filter gradient dW = dY * cols^T: rows [k0, k0+kc) are output
// positions (column k of the column matrix) and columns [n0, n0+cols) are its tap rows.
void im2colPanelsTransposed(const float* x, const Conv2dGeom& g, const ColumnBlock& b, int64_t k0, int64_t kc,
                            int64_t n0, int64_t cols, int nr, float* dst, int64_t stride);

// Whether conv2dForward and conv2dBackward's filter gradient pack their columns this way ("on",
// the default) or through an im2col buffer ("off"); tests run both and expect the same bits.
void setConvPackedColumns(bool on);
bool convPackedColumns();

// The packers' build under the active ISA level: "avx512" (gathers, for panels 16 or 32 wide)
// or "portable" (scalar; reported by backends()).
const char* im2colPanelsPathName();

}  // namespace ck::cpu
