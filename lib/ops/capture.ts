/**
 * Capture: record the ops a function queues on a device, once, and replay them later as one
 * queued op (DESIGN.md: "a recorded op list on CPU"). A small net's forward pass is a dozen ops
 * whose per-call cost (validation, output tensors, the native call) exceeds their arithmetic at
 * batch 1; a replay pays it once.
 *
 * The recorded ops read and write the very tensors they were recorded with, at every replay
 * (as a CUDA graph does): replay() copies fresh inputs into the recorded input tensors first and
 * the recorded outputs out to fresh tensors afterwards, inside the same queued op. Parameters
 * updated in place (SGD, loadStateDict) are seen by later replays.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native, type NativeHandle } from '../native.js';
import type { Device } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import { checkTensor } from './validate.js';

const nb = native;

/** A [source, destination] pair of tensors of one shape and dtype. */
export type CopyPair = readonly [Tensor, Tensor];

export class CapturedOps {
  #plan: NativeHandle | null;
  /** Number of recorded ops. */
  readonly length: number;

  /** @internal Use capture(). */
  constructor(
    readonly device: Device,
    plan: NativeHandle,
  ) {
    this.#plan = plan;
    this.length = nb.capturedOps(plan);
  }

  get disposed(): boolean {
    return this.#plan === null;
  }

  /** Queues one op: copies each input pair src -> dst, runs the recorded ops, copies each output pair src -> dst. */
  replay(inputs: readonly CopyPair[] = [], outputs: readonly CopyPair[] = []): void {
    const op = 'replay';
    if (this.#plan === null) throw new ArgumentError(`${op}: the captured ops were disposed`);
    const handles = (pairs: readonly CopyPair[], what: string): NativeHandle[] =>
      pairs.flatMap(([src, dst], i) => {
        checkTensor(op, `${what}[${i}][0]`, src, { dtype: src instanceof Tensor ? src.dtype : 'float32' });
        checkTensor(op, `${what}[${i}][1]`, dst, { dtype: src.dtype });
        if (src.device !== this.device || dst.device !== this.device)
          throw new ArgumentError(`${op}: ${what}[${i}] must be on ${this.device.name}, got ${src.device.name} and ${dst.device.name}`);
        if (src.size !== dst.size || src.shape.length !== dst.shape.length || src.shape.some((d, k) => d !== dst.shape[k]))
          throw new ShapeError(`${op}: ${what}[${i}] copies ${fmtShape(src.shape)} into ${fmtShape(dst.shape)}; the shapes must match`);
        return [src.handle(op, `${what}[${i}][0]`), dst.handle(op, `${what}[${i}][1]`)];
      });
    nb.captureReplay(this.device.stream, this.#plan, handles(inputs, 'inputs'), handles(outputs, 'outputs'));
  }

  /**
   * Queues one op that copies `input` into `recordedInput`, runs the recorded ops, copies
   * `recordedOutput` into the caller's `out`, and then stores `seq` into `done[0]` (with release
   * order). `input` is a tensor on this device, a Float32Array of the whole input, or rows: an
   * array of Float32Arrays of one sample each (recordedInput's first dimension), at most its
   * batch of them, gathered into the input with the rows after them zeroed. Arrays are copied
   * at this call; with `borrow`, read by the op itself, so they must not change until the
   * promise settles. The promise settles after the op, as a read's does; `done` lets a caller
   * see the answer sooner by polling it (Predictor.run). Nothing is stored into `done` over an
   * earlier op's failure: the promise rejects with that failure instead. `out` must not be read
   * before either says it is done.
   */
  runInto(
    input: Tensor | Float32Array | readonly Float32Array[],
    recordedInput: Tensor,
    recordedOutput: Tensor,
    out: Float32Array,
    done: Int32Array,
    seq: number,
    borrow = false,
  ): Promise<void> {
    const op = 'runInto';
    if (this.#plan === null) throw new ArgumentError(`${op}: the captured ops were disposed`);
    if (out.length !== recordedOutput.size)
      throw new ShapeError(`${op}: 'out' must hold ${recordedOutput.size} floats, it holds ${out.length}`);
    const capacity = recordedInput.shape[0] ?? 1;
    let src: NativeHandle | Float32Array | readonly Float32Array[];
    if (input instanceof Tensor) {
      checkTensor(op, 'input', input, { dtype: recordedInput.dtype });
      if (input.device !== this.device) throw new ArgumentError(`${op}: 'input' is on ${input.device.name}, not ${this.device.name}`);
      if (input.size !== recordedInput.size)
        throw new ShapeError(`${op}: 'input' is ${fmtShape(input.shape)}, the recording takes ${fmtShape(recordedInput.shape)}`);
      src = input.handle(op, 'input');
    } else if (input instanceof Float32Array) {
      if (input.length !== recordedInput.size)
        throw new ShapeError(
          `${op}: 'input' holds ${input.length} floats, the recording takes ${fmtShape(recordedInput.shape)} (${recordedInput.size})`,
        );
      src = input;
    } else if (Array.isArray(input)) {
      const per = recordedInput.size / capacity;
      if (input.length === 0 || input.length > capacity)
        throw new ShapeError(`${op}: 'input' has ${input.length} rows, the recording takes 1 to ${capacity}`);
      input.forEach((row: unknown, i) => {
        if (!(row instanceof Float32Array)) throw new ArgumentError(`${op}: row ${i} of 'input' must be a Float32Array`);
        if (row.length !== per)
          throw new ShapeError(`${op}: row ${i} of 'input' holds ${row.length} floats, a row of ${fmtShape(recordedInput.shape)} ${per}`);
      });
      src = input;
    } else {
      throw new ArgumentError(`${op}: 'input' must be a Tensor, a Float32Array or an array of Float32Array rows`);
    }
    return nb.captureRun(
      this.device.stream,
      this.#plan,
      src,
      recordedInput.handle(op, 'recordedInput'),
      recordedOutput.handle(op, 'recordedOutput'),
      out,
      done,
      seq,
      borrow,
      capacity,
    );
  }

  /** Releases the recorded ops and the tensors they hold (replays already queued still run). */
  dispose(): void {
    if (this.#plan === null) return;
    nb.captureRelease(this.#plan);
    this.#plan = null;
  }
}

/**
 * Runs fn with `device`'s stream recording instead of running, and returns what fn returned
 * with the recorded ops. Tensors fn creates are placeholders until a replay fills them; fn must
 * not read values back (that throws). CPU devices only.
 */
export function capture<R>(device: Device, fn: () => R): { ops: CapturedOps; result: R } {
  if (device.kind !== 'cpu') throw new ArgumentError(`capture: capture on ${device.name} is not supported yet (CPU streams only)`);
  nb.captureBegin(device.stream);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    nb.captureRelease(nb.captureEnd(device.stream));
    throw e;
  }
  const ops = new CapturedOps(device, nb.captureEnd(device.stream));
  if (result instanceof Promise) {
    ops.dispose();
    // Its rejection (say, a data() refused during capture) would otherwise be unhandled and end
    // the process; the error thrown below already says what went wrong.
    result.catch(() => undefined);
    throw new ArgumentError('capture: fn must be synchronous (it returned a Promise; ops queued after an await would not be recorded)');
  }
  return { ops, result };
}
