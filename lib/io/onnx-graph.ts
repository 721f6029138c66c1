/**
 * A small builder for an ONNX graph: nodes in order, float32/int64 initializers as little-endian
 * raw_data, attributes typed as ONNX wants (AttributeProto.type is required since IR 2). It
 * knows nothing of convkit's layers; lib/io/onnx-export.ts maps layers onto it.
 */
import { ConvkitError } from '../errors.js';
import { AttributeType, DataType } from './onnx-schema.js';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

interface Attr {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
  floats?: number[];
}

function attr(name: string, v: AttrValue): Attr {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (typeof v === 'number') return { name, type: AttributeType.INT, i: v };
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

/** Bytes of a typed array, copied (raw_data must not alias the tensor's buffer past encoding). */
function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class OnnxGraph {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Record<string, unknown>[] = [];
  private readonly used = new Set<string>();

  constructor() {
    // raw_data is little-endian by definition; every platform Node-API supports here is too.
    if (!littleEndian) throw new ConvkitError('ND_INTERNAL', 'exportOnnx: ONNX raw_data is little-endian and this host is not');
  }

  /** A value name not used yet, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a float32 initializer and returns its name. */
  floats(base: string, dims: readonly number[], data: Float32Array): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length)
      throw new ConvkitError('ND_INTERNAL', `exportOnnx: initializer ${base} has ${data.length} values for dims [${dims.join(', ')}]`);
    const name = this.fresh(base);
    this.initializers.push({ name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  /** Adds an int64 initializer (shapes, axes) and returns its name. */
  int64s(base: string, values: readonly number[]): string {
    const name = this.fresh(base);
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: DataType.INT64,
      rawData: bytesOf(BigInt64Array.from(values.map((v) => BigInt(v)))),
    });
    return name;
  }

  /** Adds a scalar float32 initializer. */
  scalar(base: string, v: number): string {
    return this.floats(base, [], Float32Array.of(v));
  }

  /** Appends a node; returns the name of its (single) output. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name = opType): string {
    return this.nodeTo(this.fresh(name), opType, inputs, attrs);
  }

  /** Appends a node whose output is `out`, a name taken earlier with fresh() (graph outputs). */
  nodeTo(out: string, opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push({
      name: out,
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
    return out;
  }
}
