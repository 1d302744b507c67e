/**
 * Exported records as a Parquet file, for datasets people load with `datasets` or TRL: the columns
 * and their nested types are found from the records (TRL's `chosen: [{role, content}]` becomes a
 * list of structs, as Hugging Face's own Parquet files have it, not a JSON string), then
 * hyparquet-writer writes them a row group at a time, snappy-compressed, each group's bytes handed
 * on as soon as it is encoded. The schema must be known before the first group, so the caller
 * collects it over every record first ({@link ParquetSchema}) and hands the rows over in groups.
 */
import type { SchemaElement } from 'hyparquet-writer' with { 'resolution-mode': 'import' };

/** A column's type, found from its values. */
type Shape =
  | { kind: 'null' }
  | { kind: 'string' }
  | { kind: 'boolean' }
  | { kind: 'int32' }
  | { kind: 'int64' }
  | { kind: 'double' }
  | { kind: 'list'; element: Shape }
  | { kind: 'struct'; fields: Map<string, Shape> }
  /** Values of different kinds (a string here, an object there): kept whole, as JSON text. */
  | { kind: 'json' };

const INT32 = 2 ** 31;

function shapeOf(value: unknown): Shape {
  if (value === null || value === undefined) return { kind: 'null' };
  if (typeof value === 'string') return { kind: 'string' };
  if (typeof value === 'boolean') return { kind: 'boolean' };
  if (typeof value === 'number') return !Number.isInteger(value) ? { kind: 'double' } : Math.abs(value) < INT32 ? { kind: 'int32' } : { kind: 'int64' };
  if (typeof value === 'bigint') return { kind: 'int64' };
  if (Array.isArray(value)) return { kind: 'list', element: value.reduce<Shape>((shape, item) => merge(shape, shapeOf(item)), { kind: 'null' }) };
  if (typeof value === 'object') {
    return { kind: 'struct', fields: new Map(Object.entries(value as Record<string, unknown>).map(([name, field]) => [name, shapeOf(field)])) };
  }
  return { kind: 'json' };
}

const NUMBERS = ['int32', 'int64', 'double'];

/** The shape that holds values of both shapes: nulls fit anything, integers widen, anything else mixed is JSON. */
function merge(a: Shape, b: Shape): Shape {
  if (a.kind === 'null') return b;
  if (b.kind === 'null') return a;
  if (a.kind === 'json' || b.kind === 'json') return { kind: 'json' };
  if (NUMBERS.includes(a.kind) && NUMBERS.includes(b.kind)) {
    return { kind: NUMBERS[Math.max(NUMBERS.indexOf(a.kind), NUMBERS.indexOf(b.kind))] as 'int32' | 'int64' | 'double' };
  }
  if (a.kind === 'list' && b.kind === 'list') return { kind: 'list', element: merge(a.element, b.element) };
  if (a.kind === 'struct' && b.kind === 'struct') {
    // A field one record lacks is null there.
    const fields = new Map(a.fields);
    for (const [name, shape] of b.fields) fields.set(name, merge(fields.get(name) ?? { kind: 'null' }, shape));
    return { kind: 'struct', fields };
  }
  return a.kind === b.kind ? a : { kind: 'json' };
}

/** The schema elements of a column (depth first, as Parquet lists them). */
function elementsOf(name: string, shape: Shape): SchemaElement[] {
  const optional = { name, repetition_type: 'OPTIONAL' as const };
  switch (shape.kind) {
    case 'null':
    case 'string':
      return [{ ...optional, type: 'BYTE_ARRAY', converted_type: 'UTF8' }];
    case 'json':
      return [{ ...optional, type: 'BYTE_ARRAY', converted_type: 'JSON' }];
    case 'boolean':
      return [{ ...optional, type: 'BOOLEAN' }];
    case 'int32':
      return [{ ...optional, type: 'INT32' }];
    case 'int64':
      return [{ ...optional, type: 'INT64' }];
    case 'double':
      return [{ ...optional, type: 'DOUBLE' }];
    case 'list':
      // The three-level list Parquet specifies (and pyarrow and DuckDB write): name → list → element.
      return [{ ...optional, converted_type: 'LIST', num_children: 1 }, { name: 'list', repetition_type: 'REPEATED', num_children: 1 }, ...elementsOf('element', shape.element)];
    case 'struct':
      return [{ ...optional, num_children: shape.fields.size }, ...[...shape.fields].flatMap(([field, fieldShape]) => elementsOf(field, fieldShape))];
  }
}

/** Shapes Parquet cannot hold as found: a struct with no fields, a list of nothing but nulls. */
function settle(shape: Shape): Shape {
  if (shape.kind === 'list') return { kind: 'list', element: settle(shape.element) };
  if (shape.kind !== 'struct') return shape;
  if (shape.fields.size === 0) return { kind: 'json' };
  return { kind: 'struct', fields: new Map([...shape.fields].map(([name, field]) => [name, settle(field)])) };
}

/** A value as its column's shape stores it: JSON text for mixed columns, BigInt for 64-bit integers. */
function conform(value: unknown, shape: Shape): unknown {
  if (value === null || value === undefined) return null;
  switch (shape.kind) {
    case 'json':
      return JSON.stringify(value);
    case 'int64':
      return BigInt(value as number);
    case 'list':
      return (value as unknown[]).map((item) => conform(item, shape.element));
    case 'struct': {
      const record = value as Record<string, unknown>;
      return Object.fromEntries([...shape.fields].map(([name, fieldShape]) => [name, conform(record[name], fieldShape)]));
    }
    default:
      return value;
  }
}

/** The columns of the records seen so far and their types, in first-seen order. */
export class ParquetSchema {
  private readonly columns = new Map<string, Shape>();

  add(record: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(record)) this.columns.set(name, merge(this.columns.get(name) ?? { kind: 'null' }, shapeOf(value)));
  }

  /** The columns as Parquet can hold them. */
  settled(): [string, Shape][] {
    return [...this.columns].map(([name, shape]) => [name, settle(shape)]);
  }
}

/**
 * Writes `groups` of records as the row groups of one Parquet file with `schema`'s columns; `write`
 * gets the file's bytes in order, a group's as soon as it is encoded and the footer last.
 */
export async function writeParquet(schema: ParquetSchema, groups: AsyncIterable<Record<string, unknown>[]>, write: (bytes: Uint8Array) => Promise<void>): Promise<void> {
  const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
  const columns = schema.settled();
  const elements: SchemaElement[] = [{ name: 'root', num_children: columns.length }, ...columns.flatMap(([name, shape]) => elementsOf(name, shape))];
  // hyparquet-writer counts the file's offset apart from its buffer, so the buffer can be handed on and reused.
  const bytes = new ByteWriter();
  const handOn = async () => {
    const chunk = new Uint8Array(bytes.buffer, 0, bytes.index).slice();
    bytes.index = 0;
    if (chunk.length) await write(chunk);
  };
  Object.assign(bytes, { flush: handOn, finish: handOn });
  const parquet = new ParquetWriter({ writer: bytes, schema: elements, codec: 'SNAPPY' });
  for await (const rows of groups) {
    if (!rows.length) continue;
    await parquet.write({ columnData: columns.map(([name, shape]) => ({ name, data: rows.map((row) => conform(row[name], shape)) })), rowGroupSize: rows.length });
  }
  await parquet.finish();
}
