/**
 * Criteria: what a Model's output is scored against. Each one is an object with forward (the
 * batch's mean loss, its correct count, and what backward needs) and backward (the gradient with
 * respect to the net's output), plus how the output reads as class probabilities. Model holds
 * one and never branches on which: a new loss is one more class here, not another `if` in Model.
 *
 * The stored name (`kind`) is what a weights file's meta.model records; criterionFor() is the one
 * place that maps it back to an object, so files written with the string keep loading.
 */
import { ArgumentError } from '../errors.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor/tensor.js';

/** The names a model description (and a checkpoint's meta.model) stores. */
export type CriterionKind = 'softmax-cross-entropy' | 'rbf-map';

export const CRITERION_KINDS: readonly CriterionKind[] = ['softmax-cross-entropy', 'rbf-map'];

/** forward()'s result: the loss and accuracy tensors go to the caller; `saved` is for backward. */
export interface CriterionForward {
  /** [1] mean loss of the batch (owned by the caller). */
  loss: Tensor;
  /** [1] number of correct predictions (owned by the caller). */
  correct: Tensor;
  /** What backward needs; consumed by backward() or freed by release(). */
  saved: Tensor;
}

export interface Criterion {
  /** The stored name (meta.model's `criterion`). */
  readonly kind: CriterionKind;
  /**
   * True when the net's output is a penalty per class (smallest = predicted class), as LeNet-5's
   * RBF output; probabilities are then softmax(-output). ONNX export reads it too.
   */
  readonly outputIsPenalty: boolean;
  forward(out: Tensor, labels: Tensor): CriterionForward;
  /** d(loss)/d(out), owned by the caller; consumes `f.saved`. */
  backward(f: CriterionForward, labels: Tensor): Tensor;
  /** Frees what forward saved, when no backward follows (evaluation). */
  release(f: CriterionForward): void;
  /** Class probabilities [N, classes] from the net's output (a new tensor). */
  probabilities(out: Tensor): Tensor;
}

/** Softmax cross-entropy over logits (fused softmax + loss; the gradient is probs - onehot). */
export class CrossEntropyLoss implements Criterion {
  readonly kind = 'softmax-cross-entropy' as const;
  readonly outputIsPenalty = false;

  forward(out: Tensor, labels: Tensor): CriterionForward {
    const r = ops.softmaxCrossEntropy(out, labels);
    return { loss: r.loss, correct: r.correct, saved: r.probs };
  }

  backward(f: CriterionForward, labels: Tensor): Tensor {
    const g = ops.softmaxCrossEntropyBackward(f.saved, labels);
    f.saved.dispose();
    return g;
  }

  release(f: CriterionForward): void {
    f.saved.dispose();
  }

  probabilities(out: Tensor): Tensor {
    return ops.softmax(out);
  }
}

/**
 * LeNet-5's MAP criterion over the RBF output's penalties (LeCun 1998, eq. 9). The native op
 * computes the loss, the correct count and the gradient in one pass, so forward saves the
 * gradient itself and backward hands it over.
 */
export class RbfLoss implements Criterion {
  readonly kind = 'rbf-map' as const;
  readonly outputIsPenalty = true;

  forward(out: Tensor, labels: Tensor): CriterionForward {
    const r = ops.rbfCriterion(out, labels);
    return { loss: r.loss, correct: r.correct, saved: r.dy };
  }

  backward(f: CriterionForward, labels: Tensor): Tensor {
    void labels;
    return f.saved;
  }

  release(f: CriterionForward): void {
    f.saved.dispose();
  }

  /** softmax(-y): the paper's posterior-like reading of the penalties. */
  probabilities(out: Tensor): Tensor {
    const logits = ops.scale(out, -1);
    const p = ops.softmax(logits);
    logits.dispose();
    return p;
  }
}

function isCriterion(c: unknown): c is Criterion {
  if (c === null || typeof c !== 'object') return false;
  const o = c as Record<string, unknown>;
  return (
    CRITERION_KINDS.includes(o.kind as CriterionKind) &&
    typeof o.forward === 'function' &&
    typeof o.backward === 'function' &&
    typeof o.release === 'function' &&
    typeof o.probabilities === 'function'
  );
}

/** A criterion object for a stored name, or the object itself; ND_ARG naming `where` otherwise. */
export function criterionFor(c: Criterion | CriterionKind, where = 'criterion'): Criterion {
  if (c === 'softmax-cross-entropy') return new CrossEntropyLoss();
  if (c === 'rbf-map') return new RbfLoss();
  if (isCriterion(c)) return c;
  throw new ArgumentError(
    `${where}: the criterion must be a Criterion object or one of ${CRITERION_KINDS.map((k) => `'${k}'`).join(', ')}, got ${typeof c === 'string' ? JSON.stringify(c) : typeof c}`,
  );
}
