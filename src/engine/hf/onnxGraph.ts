/**
 * Writes ONNX graphs for onnxruntime from TypeScript, so a Hugging Face checkpoint runs without a
 * Python export step. Weights never live in the protobuf: each one is appended to a weights file
 * beside `model.onnx` as it is produced and referenced as ONNX external data, so building a 13B
 * model holds one tensor in memory at a time and the graph itself stays a few hundred KB.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { onnx } from 'onnx-proto';

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;
export { DataType };

/** A float attribute (plain numbers are ints: `epsilon: float(1e-6)`, `axis: -1`). */
export interface FloatAttribute {
  float: number;
}
export const float = (value: number): FloatAttribute => ({ float: value });
export type AttributeValue = number | number[] | string | FloatAttribute | { tensor: onnx.ITensorProto };

/** Tensors start at multiples of this in the weights file: aligned loads, and a clean offset for mmap. */
const WEIGHT_ALIGNMENT = 64;

/** Appends tensor bytes to one file and says where each landed. */
export class WeightFileWriter {
  private readonly fd: number;
  private position = 0;

  constructor(
    readonly file: string,
    /** The name the graph refers to it by: relative to model.onnx, as onnxruntime requires. */
    readonly location: string,
    private readonly onBytes?: (bytes: number) => void,
  ) {
    this.fd = openSync(file, 'w');
  }

  append(bytes: Uint8Array): { offset: number; length: number } {
    this.position = Math.ceil(this.position / WEIGHT_ALIGNMENT) * WEIGHT_ALIGNMENT;
    const offset = this.position;
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(this.fd, bytes, written, bytes.byteLength - written, offset + written);
    this.position += bytes.byteLength;
    this.onBytes?.(bytes.byteLength);
    return { offset, length: bytes.byteLength };
  }

  get size(): number {
    return this.position;
  }

  close(): void {
    closeSync(this.fd);
  }
}

const bytesOf = (values: ArrayBufferView) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.TENSOR, t: value.tensor };
}

export interface GraphIO {
  name: string;
  type: number;
  /** Numbers are fixed sizes, strings symbolic ones (`batch`, `sequence`). */
  dims: Array<number | string>;
}

/**
 * Node and initializer bookkeeping with generated names. Small constants are stored inline and
 * shared by value; weights go to the external file.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly opsets = new Map<string, number>([['', 23]]);
  private counter = 0;

  constructor(private readonly weights: WeightFileWriter) {}

  /** One node with one output; returns the output's name. */
  op(type: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, domain = ''): string {
    return this.opN(type, inputs, 1, attributes, domain)[0];
  }

  opN(type: string, inputs: string[], outputs: number, attributes: Record<string, AttributeValue> = {}, domain = ''): string[] {
    if (domain !== '' && !this.opsets.has(domain)) this.opsets.set(domain, 1);
    const base = `${type}_${this.counter++}`;
    const names = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? base : `${base}_${i}`));
    this.nodes.push({
      opType: type,
      domain,
      name: base,
      input: inputs,
      output: names,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return names;
  }

  /** Renames the output of the last node (graph outputs need fixed names). */
  nameLastOutput(name: string): void {
    const node = this.nodes[this.nodes.length - 1];
    (node.output as string[])[0] = name;
  }

  private constant(dataType: number, dims: number[], raw: Uint8Array, label: string): string {
    const key = `${dataType}:${dims.join('x')}:${Buffer.from(raw).toString('base64')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `${label}_${this.counter++}`;
      this.initializers.push({ name, dataType, dims, rawData: new Uint8Array(raw) });
      this.constants.set(key, name);
    }
    return name;
  }

  /** A small float32 constant stored in the graph itself. */
  floats(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.constant(DataType.FLOAT, dims, bytesOf(Float32Array.from(values)), 'f');
  }

  /** A scalar float32 constant. */
  scalar(value: number): string {
    return this.floats([value], []);
  }

  int64s(values: readonly number[], dims: number[] = [values.length]): string {
    return this.constant(DataType.INT64, dims, bytesOf(BigInt64Array.from(values, (v) => BigInt(v))), 'i');
  }

  /** A scalar uint8 constant (quantization zero points). */
  uint8(value: number): string {
    return this.constant(DataType.UINT8, [], Uint8Array.of(value), 'u');
  }

  int64(value: number): string {
    return this.int64s([value], []);
  }

  /** A weight tensor, written to the weights file now; `data` can be dropped by the caller after this. */
  weight(name: string, dataType: number, dims: number[], data: ArrayBufferView): string {
    const { offset, length } = this.weights.append(bytesOf(data));
    this.initializers.push({
      name,
      dataType,
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.weights.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    return name;
  }

  floatWeight(name: string, dims: number[], data: Float32Array): string {
    return this.weight(name, DataType.FLOAT, dims, data);
  }

  /** The serialized model. */
  toBytes(name: string, inputs: GraphIO[], outputs: GraphIO[], docString: string): Uint8Array {
    const valueInfo = (io: GraphIO): onnx.IValueInfoProto => ({
      name: io.name,
      type: { tensorType: { elemType: io.type, shape: { dim: io.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    const model: onnx.IModelProto = {
      irVersion: 10,
      opsetImport: [...this.opsets].map(([domain, version]) => ({ domain, version })),
      producerName: 'preference-lens',
      docString,
      graph: { name, input: inputs.map(valueInfo), output: outputs.map(valueInfo), initializer: this.initializers, node: this.nodes },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
