/**
 * The kernel families' bindings (native/napi/ops_*.cc). Geometry arrays are plain number arrays;
 * each op's file in lib/ops gives their order.
 */
import type { IsaFamilies, IsaLevel, NativeHandle as H, StreamId as S } from './types.js';

export interface GemmBinding {
  gemm(
    s: S,
    a: H,
    b: H,
    c: H,
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    lda: number,
    ldb: number,
    beta: number,
    ldc: number,
  ): void;
  batchedGemm(
    s: S,
    a: H,
    b: H,
    c: H,
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    lda: number,
    strideA: number,
    ldb: number,
    strideB: number,
    beta: number,
    ldc: number,
    strideC: number,
    batch: number,
  ): void;
  gemmKernelName(): string;
}

export interface ConvBinding {
  im2col(stream: S, x: H, cols: H, geom: number[]): void;
  col2im(stream: S, cols: H, x: H, geom: number[]): void;
  conv2dForward(stream: S, x: H, w: H, bias: H | null, mask: H | null, y: H, geom: number[], relu?: boolean): void;
  /** CPU streams only: y [N, OC, OH / 2, OW / 2] = the 2x2 / 2 max pool of conv2d (its ReLU first when relu). */
  conv2dMaxPool2x2(stream: S, x: H, w: H, bias: H | null, mask: H | null, y: H, geom: number[], relu: boolean): void;
  conv2dBackward(stream: S, dy: H, x: H, w: H, mask: H | null, dx: H | null, dw: H, db: H | null, geom: number[], reluInput: boolean): void;
  /** The cap on one conv call's scratch; with an argument, sets it and returns the previous cap. */
  convScratchBytes(bytes?: number): number;
  /** Images per chunk of conv2dBackward, or with `forward` of conv2d (which packs no column buffer). */
  convChunkImages(geom: number[], forward?: boolean): number;
  /** 'avx512' | 'portable' | 'off'; with 'off' or 'auto', switches first. */
  convFastPath(name?: string): string;
  convPackedColumns(on?: boolean): boolean;
}

export interface PoolBinding {
  /** argmax null: the values only. */
  maxPool2d(s: S, x: H, y: H, argmax: H | null, geom: number[]): void;
  maxPool2dBackward(s: S, dy: H, argmax: H, dx: H, geom: number[]): void;
  /** maxPool2d of lrn(x), with the pool's argmax unless null; CPU streams only (lib/ops/lrn-pool.ts). */
  lrnMaxPool2d(s: S, x: H, y: H, geom: number[], size: number, alphaEff: number, beta: number, k: number, argmax?: H | null): void;
  /** lrnBackward(maxPool2dBackward(dy, argmax), x) with a recomputed scale; CPU streams only. */
  maxPool2dLrnBackward(
    s: S,
    dy: H,
    argmax: H,
    x: H,
    dx: H,
    geom: number[],
    size: number,
    alphaEff: number,
    beta: number,
    k: number,
    reluInput: boolean,
  ): void;
  avgPool2d(s: S, x: H, y: H, geom: number[], countIncludePad: boolean): void;
  avgPool2dBackward(s: S, dy: H, dx: H, geom: number[], countIncludePad: boolean): void;
  sumPool2d(s: S, x: H, y: H, geom: number[]): void;
  sumPool2dBackward(s: S, dy: H, dx: H, geom: number[]): void;
}

export interface LrnBinding {
  lrn(s: S, x: H, y: H, scale: H | null, geom: number[], size: number, alphaEff: number, beta: number, k: number): void;
  lrnBackward(
    s: S,
    dy: H,
    x: H,
    y: H | null,
    scale: H | null,
    dx: H,
    geom: number[],
    size: number,
    alphaEff: number,
    beta: number,
    k: number,
    reluInput: boolean,
  ): void;
}

export interface ActivationBinding {
  relu(s: S, x: H, y: H, n: number): void;
  tanh(s: S, x: H, y: H, n: number): void;
  sigmoid(s: S, x: H, y: H, n: number): void;
  scaledTanh(s: S, x: H, y: H, n: number): void;
  reluBackward(s: S, dy: H, y: H, dx: H, n: number): void;
  tanhBackward(s: S, dy: H, y: H, dx: H, n: number): void;
  sigmoidBackward(s: S, dy: H, y: H, dx: H, n: number): void;
  scaledTanhBackward(s: S, dy: H, y: H, dx: H, n: number): void;
}

export interface DropoutBinding {
  dropout(s: S, x: H, y: H, mask: H, n: number, p: number, scale: number, seed: number | bigint, offset: number | bigint): void;
  dropoutBackward(s: S, dy: H, mask: H, dx: H, n: number): void;
}

export interface LinearBinding {
  linear(s: S, x: H, w: H, b: H | null, y: H, N: number, inF: number, outF: number): void;
  linearBackwardData(s: S, dy: H, w: H, dx: H, N: number, inF: number, outF: number): void;
  linearBackwardWeight(s: S, dy: H, x: H, dw: H, N: number, inF: number, outF: number, beta: number): void;
  linearBackwardBias(s: S, dy: H, db: H, N: number, outF: number, beta: number): void;
  /** CPU streams only (ND_ARG elsewhere): packed [out, ceil(in / 2)] int32 = w as bf16. */
  packBf16(s: S, w: H, packed: H, outF: number, inF: number): void;
  /** CPU streams only: y = x W^T + b with W packed by packBf16. */
  linearBf16(s: S, x: H, packed: H, b: H | null, y: H, N: number, inF: number, outF: number): void;
}

export interface LossBinding {
  softmax(s: S, x: H, y: H, N: number, K: number): void;
  softmaxBackward(s: S, dy: H, y: H, dx: H, N: number, K: number): void;
  softmaxCrossEntropy(
    s: S,
    logits: H,
    labels: H,
    probs: H,
    loss: H,
    correct: H,
    correctTopK: H | null,
    N: number,
    K: number,
    k: number,
  ): void;
  softmaxCrossEntropyBackward(s: S, probs: H, labels: H, dlogits: H, N: number, K: number, scale: number): void;
}

export interface RbfBinding {
  rbfForward(s: S, x: H, w: H, y: H, N: number, F: number, K: number): void;
  rbfBackward(s: S, dy: H, x: H, w: H, dx: H, N: number, F: number, K: number): void;
  rbfCriterion(s: S, y: H, labels: H, loss: H, correct: H, dy: H, N: number, K: number, J: number): void;
}

export interface OptimBinding {
  sgdStepPytorch(s: S, w: H, g: H, v: H | null, n: number, lr: number, momentum: number, weightDecay: number, nesterov: boolean): void;
  sgdStepPaper(s: S, w: H, g: H, v: H | null, n: number, lr: number, momentum: number, weightDecay: number): void;
  /** segments: [offset, size, decay (0 | 1)] triples, sorted and disjoint (lib/ops/optim.ts). */
  sgdFlat(
    s: S,
    w: H,
    g: H,
    v: H | null,
    n: number,
    segments: number[],
    lr: number,
    momentum: number,
    weightDecay: number,
    paper: boolean,
    nesterov: boolean,
  ): void;
}

export interface ChannelAffineBinding {
  channelAffine(s: S, x: H, a: H, b: H, y: H, N: number, C: number, HW: number): void;
  channelAffineBackward(s: S, dy: H, x: H, a: H, dx: H | null, da: H, db: H, N: number, C: number, HW: number): void;
}

export interface CaptureBinding {
  captureBegin(stream: S): void;
  captureEnd(stream: S): H;
  capturedOps(plan: H): number;
  captureRelease(plan: H): void;
  captureReplay(stream: S, plan: H, inputs: H[], outputs: H[]): void;
  /**
   * One queued op: input (or its rows, at most `capacity`, gathered) -> recordedInput, the plan,
   * recordedOutput -> out, then done[0] = seq.
   */
  captureRun(
    stream: S,
    plan: H,
    input: H | Float32Array | readonly Float32Array[],
    recordedInput: H,
    recordedOutput: H,
    out: Float32Array,
    done: Int32Array,
    seq: number,
    borrow: boolean,
    capacity: number,
  ): Promise<void>;
}

/** native/napi/ops_isa.cc: the one CPU instruction-set switch (lib/isa.ts wraps it). */
export interface IsaBinding {
  /** The active level; with a name ('auto' included), switches every family first. */
  isa(name?: string): IsaLevel;
  cpuIsa(): IsaLevel;
  isaFamilies(): IsaFamilies;
  /** The batch sizes after which the CPU linear forward changes path, under the active level (native/cpu/linear.h). */
  linearPathBounds(): number[];
}

export interface KernelBinding
  extends
    GemmBinding,
    ConvBinding,
    PoolBinding,
    LrnBinding,
    ActivationBinding,
    DropoutBinding,
    LinearBinding,
    LossBinding,
    RbfBinding,
    OptimBinding,
    ChannelAffineBinding,
    CaptureBinding,
    IsaBinding {}
