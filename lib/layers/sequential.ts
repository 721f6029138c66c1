/**
 * Sequential: runs layers in order. While training it owns every intermediate activation until
 * backward() has used them, then disposes them; in eval mode each intermediate is disposed as
 * soon as the next layer has queued its op (queued ops hold their own references), and a layer
 * followed by an activation it can fuse (Layer.forwardFused / fusableActivation: a Conv2d and a
 * ReLU today) runs as one op (no separate pass over the conv output), and in eval mode so does
 * such a pair followed by a max pool it can take (Layer.forwardFusedPool). A layer that can take
 * the max pool after it into its own op (Layer.forwardThenMaxPool: an LRN) does so in both
 * modes; while training it then takes the pool's backward into its own too
 * (Layer.backwardThroughMaxPool), and the ReLU's before it where it can.
 */
import { ArgumentError } from '../errors.js';
import type { Device } from '../tensor/device.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { Layer, type LayerGeometry, type Parameter } from './layer.js';

/** Sequential.backwardWalk's handle: step() queues the next layer's backward; result() is dx once done. */
export interface BackwardWalk {
  step(): number;
  result(): Tensor | undefined;
}

export class Sequential extends Layer {
  readonly layers: Layer[];
  private acts: Tensor[] = [];
  /** Training: the indices of the max pools whose forward the layer before them took (see forward). */
  private pooledByPrevious = new Set<number>();
  /**
   * Called in backward() right after layer `index`'s backward has been queued (last layer
   * first), so that its parameters' gradients can be used while the rest of the backward pass
   * runs: data parallelism starts a bucket's all-reduce there. Null (the default) costs nothing.
   */
  onLayerBackward: ((index: number, layer: Layer) => void) | null = null;

  constructor(layers: Layer[], name = 'sequential') {
    super(name);
    if (!layers.length) throw new ArgumentError('Sequential: needs at least one layer');
    const names = new Set<string>();
    for (const l of layers) {
      if (names.has(l.name)) throw new ArgumentError(`Sequential: two layers are named '${l.name}' (parameter names must be unique)`);
      names.add(l.name);
    }
    this.layers = layers;
  }

  /** The output is owned by the caller, who keeps it alive until backward() when training. */
  forward(x: Tensor): Tensor {
    this.releaseSaved();
    let cur = x;
    let producer: Layer | null = null; // the layer whose output cur is (the last of a fused run)
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i];
      const act = this.layers[i + 1]?.fusableActivation ?? null;
      // Eval mode: a conv, its ReLU and the max pool after them as one op (no backward follows).
      const poolAfterAct = this.training ? null : (this.layers[i + 2]?.maxPoolOptions ?? null);
      const pooled = act && poolAfterAct ? layer.forwardFusedPool(cur, act, poolAfterAct) : null;
      const fused = pooled ?? (act ? layer.forwardFused(cur, act) : null);
      // A layer and the max pool after it as one op (an LRN's output never stored). While
      // training both must be in training mode: the layer then keeps the pool's argmax, and the
      // backward walk hands it the pool's gradient (backwardThroughMaxPool).
      const next = fused ? null : (this.layers[i + 1] ?? null);
      const poolNext = next && (!this.training || (layer.training && next.training)) ? next.maxPoolOptions : null;
      const thenPooled = poolNext ? layer.forwardThenMaxPool(cur, poolNext) : null;
      const out = fused ?? thenPooled ?? layer.forward(cur);
      if (pooled) i += 2;
      else if (thenPooled) {
        i++;
        if (this.training) this.pooledByPrevious.add(i);
      } else if (fused) {
        // The activation ran in the epilogue; in training it keeps the output for its backward.
        this.layers[i + 1].adoptFusedOutput(fused);
        i++;
      }
      if (this.training) {
        // The input just read is needed by no backward (an LRN's output, read only by the max
        // pool after it): freed now rather than held to the end of the backward pass.
        if (cur !== x && producer && !producer.backwardReadsOutput && !layer.backwardReadsInput && this.acts.at(-1) === cur) {
          this.acts.pop();
          cur.dispose();
        }
        if (i < this.layers.length - 1) this.acts.push(out);
      } else if (cur !== x) cur.dispose();
      producer = this.layers[i];
      cur = out;
    }
    return cur;
  }

  backward(dy: Tensor): Tensor | undefined {
    const walk = this.backwardWalk(dy);
    while (walk.step() >= 0);
    return walk.result();
  }

  /**
   * backward(dy) one layer at a time, last layer first: each step() queues one layer's backward
   * (and calls onLayerBackward) and returns its index, -1 once the walk is done. Data parallelism
   * walks its replicas in lockstep so that a bucket's all-reduce is queued on every replica's
   * stream right after the layers that write it, while the rest of the backward pass follows.
   */
  backwardWalk(dy: Tensor): BackwardWalk {
    let g: Tensor | undefined = dy;
    let i = this.layers.length;
    return {
      step: () => {
        if (i <= 0) return -1;
        i--;
        // A max pool whose forward the layer before it took: that layer takes its backward too.
        const pool = this.pooledByPrevious.has(i) ? this.layers[i] : null;
        if (pool) {
          this.pooledByPrevious.delete(i);
          if (this.onLayerBackward !== null) this.onLayerBackward(i, pool);
          i--;
        }
        const layer = this.layers[i];
        const relu = i > 0 ? this.layers[i - 1] : null;
        // A ReLU right before a layer that can take its backward: one pass for the two (the
        // ReLU's output is that layer's input by construction of forward()).
        const fuse =
          relu !== null && layer.fusesReluBackward && relu.fusableActivation === 'relu' && relu.needInputGrad && layer.needInputGrad;
        const dx: Tensor | undefined = pool
          ? layer.backwardThroughMaxPool(g!, fuse)
          : fuse
            ? layer.backwardThroughRelu(g!)
            : layer.backward(g!);
        if (this.onLayerBackward !== null) this.onLayerBackward(i, layer);
        if (fuse) {
          relu.releaseSaved();
          i--;
          if (this.onLayerBackward !== null) this.onLayerBackward(i, relu);
        }
        if (g !== dy) g!.dispose();
        g = dx;
        if (!g && i > 0) throw new ArgumentError(`${this.layers[i].name}: returned no input gradient inside a Sequential`);
        if (i === 0) this.releaseSaved();
        return i;
      },
      result: () => g,
    };
  }

  outputShape(input: Shape): Shape {
    let s = input;
    for (const l of this.layers) s = l.outputShape(s);
    return s;
  }

  override geometry(input: Shape): LayerGeometry {
    let params = 0;
    let connections = 0;
    let s = input;
    for (const l of this.layers) {
      const g = l.geometry(s);
      params += g.params;
      connections += g.connections;
      s = l.outputShape(s);
    }
    return { kernel: 1, stride: 1, params, connections };
  }

  override children(): readonly Layer[] {
    return this.layers;
  }

  override parameters(): Parameter[] {
    return this.layers.flatMap((l) => l.parameters());
  }

  override train(mode = true): this {
    this.training = mode;
    for (const l of this.layers) l.train(mode);
    return this;
  }

  override releaseSaved(): void {
    for (const t of this.acts) t.dispose();
    this.acts = [];
    for (const i of this.pooledByPrevious) this.layers[i - 1].releaseSaved();
    this.pooledByPrevious.clear();
  }

  protected override moveBuffers(device: Device): void {
    // Parameters were moved by Layer.to (parameters() lists every layer's); fixed tensors are
    // each layer's own.
    for (const l of this.layers) l.to(device);
  }

  override dispose(): void {
    this.releaseSaved();
    for (const l of this.layers) l.dispose();
  }

  override toString(): string {
    return `Sequential(\n${this.layers.map((l) => `  (${l.name}): ${l.toString()}`).join('\n')}\n)`;
  }
}
