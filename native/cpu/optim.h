// SGD with momentum and weight decay, fused: one pass reads w, g, v and writes w and v in place.
//
// PyTorch's rule (torch.optim.SGD, dampening 0), with v starting at zero:
//   d = g + wd*w;  v = mu*v + d;  w -= lr * (nesterov ? d + mu*v : v)
// With mu == 0 the rule is w -= lr*d and v is not touched (it may be null).
//
// The AlexNet paper's rule (Krizhevsky et al. 2012, section 5):
//   v = mu*v - wd*lr*w - lr*g;  w += v
// v may be null when mu == 0.
//
// For a constant lr the two give the same weights (the paper's v is -lr times PyTorch's);
// they differ when lr changes, which is why both are offered.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/geometry.h"

namespace ck::cpu {

void sgdStepPytorch(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay,
                    bool nesterov);
void sgdStepPaper(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weightDecay);

using ck::SgdRule;  // native/core/geometry.h, shared with native/cuda
using ck::SgdSegment;

// Every segment of the flat buffers w, g, v (v null without momentum) updated in one pass over
// the thread pool, element for element the same arithmetic as sgdStepPytorch / sgdStepPaper.
// Segments are sorted, disjoint and inside the buffers (the binding checks).
void sgdFlat(float* w, const float* g, float* v, const std::vector<SgdSegment>& segments, const SgdRule& rule);

}  // namespace ck::cpu
