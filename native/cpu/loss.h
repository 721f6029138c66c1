// Softmax and fused softmax cross-entropy over rows: logits [N, K], labels int32 [N].
//   forward   probs = softmax(logits) (saved for backward)
//             loss[0] = mean over rows of logsumexp(row) - row[label]   (in double, stable)
//             correct[0] = rows whose label is the first argmax (top-1 count)
//             correctTopK[0] = rows whose label ranks among the k largest (ties broken by index)
//   backward  dlogits = scale * (probs - onehot(labels)) / N
// A label outside [0, K) throws ck::Error(Code::Arg) naming the first bad row and label, after
// every row has been written (the outputs of bad rows are NaN), so it surfaces at the next wait.
#pragma once
#include <cstdint>

namespace ck::cpu {

void softmaxForward(const float* x, float* y, int64_t N, int64_t K);
// dx = y * (dy - sum_k dy*y), per row.
void softmaxBackward(const float* dy, const float* y, float* dx, int64_t N, int64_t K);

// correctTopK may be null (k ignored).
void softmaxCrossEntropyForward(const float* logits, const int32_t* labels, float* probs, float* loss, float* correct,
                                float* correctTopK, int64_t N, int64_t K, int64_t k);
void softmaxCrossEntropyBackward(const float* probs, const int32_t* labels, float* dlogits, int64_t N, int64_t K,
                                 float scale);

}  // namespace ck::cpu
