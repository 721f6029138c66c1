// The CPU kernels under the CUDA calling convention: name(cpu::Host, args...) forwards to
// cpu::name(args...), so a binding's one kernel expression (dispatch.h) finds the CPU kernel by
// argument-dependent lookup on cpu::Host exactly as it finds the CUDA twin on cuda::Ctx.
// Forwarders rather than a context parameter on every CPU kernel: the kernels keep their plain
// signatures (their tests, the CUDA check harness and the kernels calling one another use
// them), and a new binding adds one line here.
#pragma once
#include <utility>

#include "../cpu/activation.h"
#include "../cpu/channel_affine.h"
#include "../cpu/conv.h"
#include "../cpu/dropout.h"
#include "../cpu/elementwise.h"
#include "../cpu/gemm.h"
#include "../cpu/im2col.h"
#include "../cpu/linear.h"
#include "../cpu/loss.h"
#include "../cpu/lrn.h"
#include "../cpu/optim.h"
#include "../cpu/pool.h"
#include "../cpu/rbf.h"

namespace ck::cpu {

// The CPU's kernel context: empty, as a CPU kernel runs on the thread that calls it (its
// stream's executor) and uses the addon's thread pool inside.
struct Host {};

#define CK_HOST_TWIN(name)                               \
  template <class... A>                                  \
  inline decltype(auto) name(const Host&, A&&... args) { \
    return name(std::forward<A>(args)...);               \
  }

CK_HOST_TWIN(fill)
CK_HOST_TWIN(fillI32)
CK_HOST_TWIN(copy)
CK_HOST_TWIN(axpby)
CK_HOST_TWIN(add)
CK_HOST_TWIN(mul)
CK_HOST_TWIN(sum)
CK_HOST_TWIN(randomNormal)
CK_HOST_TWIN(randomUniform)
CK_HOST_TWIN(channelAffineForward)
CK_HOST_TWIN(channelAffineBackward)
CK_HOST_TWIN(sgemm)
CK_HOST_TWIN(sgemmStridedBatched)
CK_HOST_TWIN(im2col)
CK_HOST_TWIN(col2im)
CK_HOST_TWIN(conv2dForward)
CK_HOST_TWIN(conv2dForwardRelu)
CK_HOST_TWIN(conv2dBackward)
CK_HOST_TWIN(maxPool2dForward)
CK_HOST_TWIN(maxPool2dBackward)
CK_HOST_TWIN(avgPool2dForward)
CK_HOST_TWIN(avgPool2dBackward)
CK_HOST_TWIN(sumPool2dForward)
CK_HOST_TWIN(sumPool2dBackward)
CK_HOST_TWIN(lrnForward)
CK_HOST_TWIN(lrnBackward)
CK_HOST_TWIN(reluForward)
CK_HOST_TWIN(reluBackward)
CK_HOST_TWIN(tanhForward)
CK_HOST_TWIN(tanhBackward)
CK_HOST_TWIN(sigmoidForward)
CK_HOST_TWIN(sigmoidBackward)
CK_HOST_TWIN(scaledTanhForward)
CK_HOST_TWIN(scaledTanhBackward)
CK_HOST_TWIN(dropoutForward)
CK_HOST_TWIN(dropoutBackward)
CK_HOST_TWIN(linearForward)
CK_HOST_TWIN(linearBackwardData)
CK_HOST_TWIN(linearBackwardWeight)
CK_HOST_TWIN(linearBackwardBias)
CK_HOST_TWIN(softmaxForward)
CK_HOST_TWIN(softmaxBackward)
CK_HOST_TWIN(softmaxCrossEntropyForward)
CK_HOST_TWIN(softmaxCrossEntropyBackward)
CK_HOST_TWIN(rbfForward)
CK_HOST_TWIN(rbfBackward)
CK_HOST_TWIN(rbfCriterion)
CK_HOST_TWIN(sgdStepPytorch)
CK_HOST_TWIN(sgdStepPaper)
CK_HOST_TWIN(sgdFlat)

#undef CK_HOST_TWIN

}  // namespace ck::cpu
