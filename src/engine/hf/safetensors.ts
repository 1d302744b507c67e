/**
 * Reads Hugging Face safetensors weights (one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json`) one tensor at a time, straight from disk: a 13B model is 26 GB of
 * bf16, so nothing here ever holds more than the tensor being converted.
 *
 * The format: an 8-byte little-endian header length, a JSON header `{name: {dtype, shape,
 * data_offsets: [begin, end]}}` (offsets relative to the end of the header), then raw little-endian
 * tensor bytes. Every header is checked against the file's size before any offset is trusted, so a
 * truncated download or a hostile file gives an error naming the file instead of garbage weights.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { ModelFolderError } from '../modelFolderError';

/** The element types reward-model checkpoints use; others (int, fp8) are refused by name. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';
const BYTES_PER_ELEMENT: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** A header past this is not a weights file (real ones are a few hundred KB even for 70B models). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  file: string;
  /** Absolute byte offset of the tensor's data in `file`. */
  offset: number;
  byteLength: number;
}

export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

function readExactly(fd: number, buffer: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < buffer.length) {
    const read = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (read === 0) throw new ModelFolderError(`${file} ended early (truncated download?): re-download it.`, file);
    done += read;
  }
}

/** The tensors listed in one safetensors file's header, validated against the file's size. */
export function readSafetensorsHeader(file: string): TensorEntry[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new ModelFolderError(`Cannot open ${file}: ${(error as Error).message}`, file);
  }
  try {
    const size = fstatSync(fd).size;
    const bad = (why: string) => new ModelFolderError(`${file} is not a valid safetensors file: ${why}. Re-download it.`, file);
    if (size < 8) throw bad('it is shorter than its 8-byte header length');
    const lengthBytes = Buffer.alloc(8);
    readExactly(fd, lengthBytes, 0, file);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) throw bad(`its header length (${headerLength} bytes) does not fit the file (${size} bytes)`);
    const headerBytes = Buffer.alloc(headerLength);
    readExactly(fd, headerBytes, 8, file);
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch (error) {
      throw bad(`its header is not JSON (${(error as Error).message})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('its header is not a JSON object');
    const dataStart = 8 + headerLength;
    const entries: TensorEntry[] = [];
    for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const spec = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const { dtype, shape, data_offsets: offsets } = spec ?? {};
      if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) throw bad(`tensor ${name} has an unknown dtype ${JSON.stringify(dtype)}`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor ${name} has an invalid shape`);
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
        throw bad(`tensor ${name} has invalid data_offsets`);
      }
      const [begin, end] = offsets as [number, number];
      const elements = (shape as number[]).reduce((product, d) => product * d, 1);
      if (end - begin !== elements * BYTES_PER_ELEMENT[dtype]) throw bad(`tensor ${name} has ${end - begin} bytes for shape [${shape.join(', ')}] of ${dtype}`);
      if (dataStart + end > size) throw bad(`tensor ${name} ends past the end of the file (truncated download?)`);
      entries.push({ name, dtype, shape: shape as number[], file, offset: dataStart + begin, byteLength: end - begin });
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** 65536-entry table: fp16 bits → float32, exact (every half is a float). */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    halfTable[bits] =
      exponent === 0 ? sign * 2 ** -14 * (fraction / 1024) : exponent === 0x1f ? (fraction ? NaN : sign * Infinity) : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return halfTable;
}

/** Converts raw little-endian tensor bytes to float32 (bf16 and fp16 widen exactly). */
export function toFloat32(bytes: Uint8Array, dtype: string, name: string): Float32Array {
  const count = bytes.byteLength / (BYTES_PER_ELEMENT[dtype] ?? 1);
  // Copy into an aligned buffer first: a Buffer read from disk may start at any byte offset.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  if (dtype === 'F32') return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
  if (dtype === 'BF16') {
    const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
    const out = new Uint32Array(count);
    for (let i = 0; i < count; i++) out[i] = halves[i] << 16;
    return new Float32Array(out.buffer);
  }
  if (dtype === 'F16') {
    const table = halfToFloatTable();
    const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = table[halves[i]];
    return out;
  }
  throw new Error(`Tensor ${name} is ${dtype}; reward-model weights must be F32, F16 or BF16`);
}

/**
 * Every tensor of a model folder, by name, across shards. Reads happen on demand; file handles are
 * opened per read so an idle store holds no descriptors.
 */
export class WeightStore {
  private constructor(
    readonly dir: string,
    private readonly entries: Map<string, TensorEntry>,
    /** The weight files, in shard order. */
    readonly files: string[],
  ) {}

  /** Opens `model.safetensors`, or the shards `model.safetensors.index.json` lists. */
  static open(dir: string, readText: (file: string) => string | undefined): WeightStore {
    const indexFile = path.join(dir, SHARD_INDEX);
    const indexText = readText(indexFile);
    let files: string[];
    if (indexText !== undefined) {
      let weightMap: Record<string, string>;
      try {
        weightMap = (JSON.parse(indexText) as { weight_map: Record<string, string> }).weight_map;
        if (weightMap === null || typeof weightMap !== 'object') throw new Error('it has no weight_map object');
      } catch (error) {
        throw new ModelFolderError(`${indexFile} is not a valid shard index: ${(error as Error).message}`, indexFile);
      }
      const shardNames = [...new Set(Object.values(weightMap))];
      for (const shard of shardNames) {
        // A shard name is a file beside the index, never a path elsewhere.
        if (typeof shard !== 'string' || shard !== path.basename(shard)) throw new ModelFolderError(`${indexFile} names an invalid shard ${JSON.stringify(shard)}`, indexFile);
      }
      files = shardNames.sort().map((shard) => path.join(dir, shard));
    } else {
      files = [path.join(dir, SINGLE_FILE)];
    }
    const entries = new Map<string, TensorEntry>();
    for (const file of files) {
      for (const entry of readSafetensorsHeader(file)) entries.set(entry.name, entry);
    }
    return new WeightStore(dir, entries, files);
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  /**
   * The stored entry for a name transformers would load it under: older checkpoints (BERT and
   * DeBERTa eras) call LayerNorm parameters `gamma` / `beta`, renamed on load.
   */
  private resolve(name: string): TensorEntry | undefined {
    return this.entries.get(name) ?? this.entries.get(name.replace(/\.weight$/, '.gamma')) ?? this.entries.get(name.replace(/\.bias$/, '.beta'));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): TensorEntry {
    const entry = this.resolve(name);
    if (!entry) throw new ModelFolderError(`The weights in ${this.dir} have no tensor ${name}: is this checkpoint the architecture its config.json names?`, this.dir);
    return entry;
  }

  /** The tensor's raw bytes. */
  readBytes(name: string): Buffer {
    const entry = this.entry(name);
    const buffer = Buffer.allocUnsafe(entry.byteLength);
    const fd = openSync(entry.file, 'r');
    try {
      readExactly(fd, buffer, entry.offset, entry.file);
    } finally {
      closeSync(fd);
    }
    return buffer;
  }

  /** The tensor widened to float32, with its shape checked when `shape` is given. */
  readFloat32(name: string, shape?: readonly number[]): Float32Array {
    const entry = this.entry(name);
    if (shape && (shape.length !== entry.shape.length || shape.some((d, i) => d !== entry.shape[i]))) {
      throw new ModelFolderError(
        `Tensor ${name} in ${entry.file} has shape [${entry.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`,
        entry.file,
      );
    }
    return toFloat32(this.readBytes(name), entry.dtype, name);
  }

  /** The float dtype of the checkpoint (that of its largest tensors), for the user and the cache key. */
  dtype(): string {
    const bytes = new Map<string, number>();
    for (const entry of this.entries.values()) bytes.set(entry.dtype, (bytes.get(entry.dtype) ?? 0) + entry.byteLength);
    return [...bytes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  }

  /** Elements of every tensor: the model's parameter count, whatever it is stored in. */
  parameterCount(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.byteLength / BYTES_PER_ELEMENT[entry.dtype];
    return total;
  }

  totalBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.byteLength;
    return total;
  }
}
