/**
 * Fuzzing format detection and the parsers (issue 6 item 5). Records come from the format fixtures
 * (test/fixtures/formats), the real datasets in ../shared/data (skipped with a message when absent),
 * the hostile-text corpus, and fast-check's generators; they are mutated (fields dropped, values
 * swapped for other types, nested thousands deep, numbers beyond float range, giant strings,
 * lines cut short, bytes flipped). For every input:
 *
 * - parseDataset / loadDataset either return or throw a DatasetError — never anything else;
 * - they finish within a time bound (no hang, no quadratic blow-up on a giant value);
 * - every record is accounted for by its line: each non-blank line of a JSONL file is either a
 *   pair or a malformed entry carrying exactly that line number, and never both;
 * - the reason given for a malformed record is short: a bad value is quoted, not pasted whole.
 *
 * Seeds are printed by fast-check on failure; PLENS_FUZZ_RUNS scales the number of runs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DatasetError, loadDataset, parseDataset, type Dataset } from '../../src/core/dataset';

const repo = path.resolve(__dirname, '../..');
const SHARED_DATA = path.resolve(repo, '../shared/data');
const RUNS = Number(process.env.PLENS_FUZZ_RUNS ?? 150);
/** Per parse. Generous for a loaded 2-core CI box; a hang or a quadratic path blows far past it. */
const TIME_BOUND_MS = 5_000;
/** Longest acceptable reason for a malformed record. */
const MAX_REASON = 2_000;

// ---------------------------------------------------------------------------- seed records

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Records of a JSONL file or elements of a top-level JSON array; at most `limit` per file. */
function recordsOf(file: string, limit: number): Record<string, Json>[] {
  const text = readFileSync(file, 'utf8');
  const out: Record<string, Json>[] = [];
  if (/^\s*\[/.test(text)) {
    for (const value of JSON.parse(text) as Json[]) if (value && typeof value === 'object' && !Array.isArray(value) && out.length < limit) out.push(value);
    return out;
  }
  for (const line of text.split('\n')) {
    if (out.length >= limit) break;
    try {
      const value = JSON.parse(line) as Json;
      if (value && typeof value === 'object' && !Array.isArray(value)) out.push(value);
    } catch {
      // Fixtures hold deliberately bad lines; they are covered by the mutations anyway.
    }
  }
  return out;
}

function seedFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => /\.jsonl?$/.test(f) && statSync(f).isFile() && statSync(f).size < 50 * 1024 * 1024);
}

const fixtureRecords = seedFiles(path.join(repo, 'test/fixtures/formats')).flatMap((f) => recordsOf(f, 50));
const sharedFiles = seedFiles(SHARED_DATA).filter((f) => !f.includes(`${path.sep}tokenizers${path.sep}`));
const sharedRecords = sharedFiles.flatMap((f) => recordsOf(f, 40));
if (sharedFiles.length === 0) console.log(`SKIPPED (in part): ${SHARED_DATA} is absent; fuzzing from the format fixtures only`);
const hostile = (JSON.parse(readFileSync(path.join(repo, 'test/fixtures/hostile/payloads.json'), 'utf8')) as { text: string }[]).map((p) => p.text);
const SEEDS = [...fixtureRecords, ...sharedRecords];
assert.ok(fixtureRecords.length > 20, 'the format fixtures should give plenty of seed records');

// ---------------------------------------------------------------------------- mutations

/**
 * Deep nesting is spliced in as text: JSON.stringify itself overflows the stack a few thousand
 * levels down, so a generated value stands for it as a placeholder string until the line is made.
 */
const DEEP = { array: '\u0001DEEP-ARRAY\u0001', object: '\u0001DEEP-OBJECT\u0001' } as const;
const deepText = (kind: 'array' | 'object', depth: number, leaf = '"deep"') =>
  kind === 'array' ? `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}` : `${'{"x":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
/** JSON text of `value`, with each placeholder replaced by 5,000 levels of nesting. */
const toLine = (value: unknown) =>
  (JSON.stringify(value) ?? 'null').replaceAll(JSON.stringify(DEEP.array), deepText('array', 5_000)).replaceAll(JSON.stringify(DEEP.object), deepText('object', 5_000));

const strange = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -0, 1, 2, 3, -1, 0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, '', ' ', '0', '1', 'tie', 'A', 'chosen', [], {}, [[]], [{}]),
  fc.constantFrom(...hostile),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
  fc.array(fc.record({ role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'human', 'gpt', ''), fc.string()), content: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }), { maxLength: 4 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(DEEP.array, DEEP.object),
);

type Mutation = (record: Record<string, Json>) => Record<string, Json>;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Drop a field.
  fc.nat().map((n) => (r: Record<string, Json>) => {
    const keys = Object.keys(r);
    if (!keys.length) return r;
    const copy = { ...r };
    delete copy[keys[n % keys.length]!];
    return copy;
  }),
  // Replace a field's value by one of another type (or a deep, huge or hostile one).
  fc.tuple(fc.nat(), strange).map(([n, value]) => (r: Record<string, Json>) => {
    const keys = Object.keys(r);
    return keys.length ? { ...r, [keys[n % keys.length]!]: value } : { x: value };
  }),
  // Replace a value somewhere inside (messages, turns): one level down.
  fc.tuple(fc.nat(), fc.nat(), strange).map(([n, m, value]) => (r: Record<string, Json>) => {
    const keys = Object.keys(r);
    if (!keys.length) return r;
    const key = keys[n % keys.length]!;
    const inner = r[key];
    if (Array.isArray(inner) && inner.length) return { ...r, [key]: inner.map((v, i) => (i === m % inner.length ? value : v)) };
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      const innerKeys = Object.keys(inner);
      if (innerKeys.length) return { ...r, [key]: { ...inner, [innerKeys[m % innerKeys.length]!]: value } };
    }
    return r;
  }),
  // Add an unknown field.
  fc.tuple(fc.string({ maxLength: 12 }), strange).map(([key, value]) => (r: Record<string, Json>) => ({ ...r, [key]: value })),
  // Swap two fields' values.
  fc.tuple(fc.nat(), fc.nat()).map(([n, m]) => (r: Record<string, Json>) => {
    const keys = Object.keys(r);
    if (keys.length < 2) return r;
    const [a, b] = [keys[n % keys.length]!, keys[m % keys.length]!];
    return { ...r, [a]: r[b]!, [b]: r[a]! };
  }),
);

const mutatedRecord = fc.tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { maxLength: 3 })).map(([seed, ms]) => ms.reduce((r, m) => m(r), seed));

/** A JSONL line: a (mutated) record, a cut-short one, random JSON, random text, or blank. */
const line = fc.oneof(
  { weight: 6, arbitrary: mutatedRecord.map(toLine) },
  {
    weight: 2,
    arbitrary: fc.tuple(mutatedRecord, fc.double({ min: 0, max: 1, noNaN: true })).map(([r, cut]) => {
      const s = toLine(r);
      return s.slice(0, Math.floor(s.length * cut));
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ' ')) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t', '[', '{', '}', 'null', '[]', '"x"', '1e999', '{"chosen":', '\u0000', '\ufeff{}') },
);

// ---------------------------------------------------------------------------- checks

/** Parses, times, and allows only DatasetError to escape. */
function parse(text: string, options: { format?: string } = {}): Dataset | DatasetError {
  const started = performance.now();
  let result: Dataset | DatasetError;
  try {
    result = parseDataset('fuzz.jsonl', text, options);
  } catch (error) {
    if (!(error instanceof DatasetError)) {
      throw new Error(`parseDataset threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message} — only DatasetError may escape`, { cause: error });
    }
    assert.match(error.message, /fuzz\.jsonl/, 'a DatasetError names the file');
    result = error;
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < TIME_BOUND_MS, `parseDataset took ${Math.round(elapsed)} ms on ${text.length} chars`);
  return result;
}

/**
 * Every malformed entry has a line and a reason. For JSONL: each non-blank line is exactly one pair
 * or one malformed entry, with its own line number. (Records are split on \n; a lone \r or other
 * separators stay inside a line.)
 */
function assertEveryLineAccounted(text: string, dataset: Dataset): void {
  for (const m of dataset.malformed) {
    assert.ok(Number.isInteger(m.line) && m.line >= 1, `malformed entry without a line: ${JSON.stringify(m).slice(0, 200)}`);
    assert.ok(typeof m.error === 'string' && m.error.length > 0, `malformed line ${m.line} has no reason`);
    // Reasons are shown in a notification and in the webview: a bad value is quoted, not pasted.
    assert.ok(m.error.length <= MAX_REASON, `line ${m.line}: a ${m.error.length}-character reason: ${m.error.slice(0, 120)}…`);
  }
  // A file whose first non-blank character is "[" is one top-level JSON array, not JSONL (a
  // generated first line can be one): records are then numbered by the line they start on.
  if (/^[\s\ufeff]*\[/.test(text)) {
    const lineCount = text.split('\n').length;
    for (const item of [...dataset.pairs, ...dataset.malformed]) assert.ok(item.line <= lineCount, `line ${item.line} beyond the file's ${lineCount}`);
    return;
  }
  const expected = text
    .split('\n')
    .map((l, i) => ({ blank: l.trim() === '' || l.trim() === '\ufeff', n: i + 1 }))
    .filter((l) => !l.blank)
    .map((l) => l.n);
  const pairLines = dataset.pairs.map((p) => p.line);
  const badLines = dataset.malformed.map((m) => m.line);
  assert.deepEqual([...pairLines, ...badLines].sort((a, b) => a - b), expected, 'pairs and malformed lines should be exactly the non-blank lines');
}

// ---------------------------------------------------------------------------- properties

test(`JSONL of mutated real records: only DatasetError, in time, every line accounted for (${SEEDS.length} seeds, ${sharedRecords.length} from ../shared/data)`, { timeout: 10 * 60_000 }, () => {
  let loaded = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 30 }), (lines) => {
      const text = lines.join('\n') + '\n';
      const result = parse(text);
      if (result instanceof DatasetError) {
        refused++;
        return;
      }
      loaded++;
      assertEveryLineAccounted(text, result);
    }),
    { numRuns: RUNS },
  );
  console.log(`  ${loaded} files loaded, ${refused} refused with a DatasetError`);
  assert.ok(loaded > RUNS / 10, 'most generated files should still load: the mutations are too blunt otherwise');
});

test('mostly-valid files keep their good records and report each bad one by line', { timeout: 5 * 60_000 }, () => {
  fc.assert(
    fc.property(fc.constantFrom(...SEEDS), fc.integer({ min: 3, max: 20 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (seed, count, badPositions) => {
      // Identical valid records of one format, with a few lines broken: detection must still find
      // the format and the broken lines must be reported with their exact numbers.
      const good = toLine(seed);
      const lines = Array.from({ length: count }, () => good);
      const broken = new Set(badPositions.map((p) => p % count));
      for (const i of broken) lines[i] = good.slice(0, Math.max(1, Math.floor(good.length / 2)));
      if (broken.size >= count / 2) return; // detection samples a majority; not this property's case
      const text = lines.join('\n');
      const result = parse(text);
      if (result instanceof DatasetError) return; // a seed that is itself unpaired / unknown
      assertEveryLineAccounted(text, result);
      for (const i of broken) assert.ok(result.malformed.some((m) => m.line === i + 1), `line ${i + 1} was cut short but not reported`);
    }),
    { numRuns: RUNS },
  );
});

test('top-level JSON arrays of mutated records: only DatasetError, in time, lines in range', { timeout: 5 * 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(mutatedRecord, strange as fc.Arbitrary<Json>), { minLength: 0, maxLength: 12 }), fc.boolean(), (records, pretty) => {
      const text = (pretty ? JSON.stringify(records, null, 2) : JSON.stringify(records))
        .replaceAll(JSON.stringify(DEEP.array), deepText('array', 5_000))
        .replaceAll(JSON.stringify(DEEP.object), deepText('object', 5_000));
      const result = parse(text);
      if (result instanceof DatasetError) return;
      const lineCount = text.split('\n').length;
      for (const item of [...result.pairs, ...result.malformed]) {
        assert.ok(Number.isInteger(item.line) && item.line >= 1 && item.line <= lineCount, `line ${item.line} outside 1..${lineCount}`);
      }
      for (const m of result.malformed) assert.ok(m.error.length > 0);
    }),
    { numRuns: Math.ceil(RUNS / 2) },
  );
});

test('forced formats on the wrong data: only DatasetError, every line accounted for', { timeout: 5 * 60_000 }, () => {
  const names = [...new Set(SEEDS.map((s) => {
    const r = parse(toLine(s));
    return r instanceof DatasetError ? undefined : r.format.name;
  }).filter((n): n is string => n !== undefined))];
  assert.ok(names.length >= 5, `seeds cover only ${names.join(', ')}`);
  fc.assert(
    fc.property(fc.constantFrom(...names, 'no-such-format'), fc.array(line, { minLength: 1, maxLength: 10 }), (format, lines) => {
      const text = lines.join('\n');
      const result = parse(text, { format });
      if (!(result instanceof DatasetError)) assertEveryLineAccounted(text, result);
    }),
    { numRuns: RUNS },
  );
});

/**
 * Deterministic sweep behind the random one: in one valid record of every format, each field (and
 * each field one level down) in turn becomes 5,000 levels of nesting, a giant string or a huge
 * number, next to intact copies of the record. Error messages quote bad values; quoting must not
 * be what fails.
 */
test('every field of every format, replaced by a deep, giant or huge value', { timeout: 5 * 60_000 }, () => {
  const byFormat = new Map<string, Record<string, Json>>();
  for (const seed of fixtureRecords) {
    const result = parse(toLine(seed));
    if (!(result instanceof DatasetError) && result.pairs.length === 1 && !byFormat.has(result.format.name)) byFormat.set(result.format.name, seed);
  }
  assert.ok(byFormat.size >= 8, `fixtures cover only ${[...byFormat.keys()].join(', ')}`);
  const values: [string, Json][] = [
    ['deep array', DEEP.array],
    ['deep object', DEEP.object],
    ['1 MB string', 'x'.repeat(1024 * 1024)],
    ['1e308', 1e308],
  ];
  const failures: string[] = [];
  let cases = 0;
  for (const [format, seed] of byFormat) {
    const paths: string[][] = [];
    for (const [key, value] of Object.entries(seed)) {
      paths.push([key]);
      if (value && typeof value === 'object') for (const inner of Object.keys(value)) paths.push([key, inner]);
    }
    for (const fieldPath of paths) {
      for (const [valueName, value] of values) {
        const record = structuredClone(seed) as Record<string, Json>;
        let holder = record as Record<string, Json>;
        for (const key of fieldPath.slice(0, -1)) holder = holder[key] as Record<string, Json>;
        holder[fieldPath.at(-1)!] = value;
        const text = [toLine(seed), toLine(record), toLine(seed), toLine(seed)].join('\n');
        cases++;
        try {
          const result = parse(text, { format });
          if (!(result instanceof DatasetError)) assertEveryLineAccounted(text, result);
        } catch (error) {
          failures.push(`${format} ${fieldPath.join('.')} = ${valueName}: ${(error as Error).message.slice(0, 160)}`);
        }
      }
    }
  }
  console.log(`  ${cases} cases over ${byFormat.size} formats`);
  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
});

/** The hard cases, each once, with what they must do. */
test('pathological records: deep nesting, giant strings and numbers, NUL, lone surrogates', { timeout: 5 * 60_000 }, () => {
  const hh = { chosen: '\n\nHuman: hi\n\nAssistant: a', rejected: '\n\nHuman: hi\n\nAssistant: b' };
  const giant = 'x'.repeat(20 * 1024 * 1024);
  const cases: [string, string][] = [
    ['100k-deep array line', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['100k-deep object line', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`],
    ['deep value in a valid record', JSON.stringify({ ...hh, extra: DEEP.array }).replace(JSON.stringify(DEEP.array), deepText('array', 20_000, '1'))],
    ['deep value as the chosen text', JSON.stringify({ ...hh, chosen: DEEP.object }).replace(JSON.stringify(DEEP.object), deepText('object', 20_000))],
    ['deep message list', JSON.stringify({ prompt: 'q', chosen: DEEP.array, rejected: [{ role: 'assistant', content: 'b' }] }).replace(JSON.stringify(DEEP.array), deepText('array', 20_000, '{"role":"assistant","content":"a"}'))],
    ['20 MB chosen string', JSON.stringify({ ...hh, chosen: `\n\nHuman: hi\n\nAssistant: ${giant}` })],
    ['20 MB key', JSON.stringify({ ...hh, [giant]: 1 })],
    ['number beyond float range', `{"chosen":"\\n\\nHuman: a\\n\\nAssistant: b","rejected":"\\n\\nHuman: a\\n\\nAssistant: c","score_chosen":1e999}`],
    ['huge label', JSON.stringify({ input: 'q', output_1: 'a', output_2: 'b', label: 1e308 })],
    ['400-digit integer', `{"input":"q","output_1":"a","output_2":"b","label":${'9'.repeat(400)}}`],
    ['NUL and lone surrogates', JSON.stringify({ chosen: '\n\nHuman: \u0000\ud800\n\nAssistant: \udfff', rejected: '\n\nHuman: \u0000\ud800\n\nAssistant: \u0000' })],
    ['__proto__ and constructor keys', `{"__proto__":{"chosen":"x"},"constructor":{"prototype":{}},"chosen":"\\n\\nHuman: a\\n\\nAssistant: b","rejected":"\\n\\nHuman: a\\n\\nAssistant: c"}`],
    ['100k fields', JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`f${i}`, i])))],
    ['a million blank lines then one record', `${'\n'.repeat(1_000_000)}${JSON.stringify(hh)}`],
  ];
  const outcomes: string[] = [];
  for (const [name, record] of cases) {
    // A valid neighbour, so the file has a format and the case is one bad or odd record in it.
    const text = `${JSON.stringify(hh)}\n${record}\n${JSON.stringify(hh)}\n`;
    const started = performance.now();
    let result: Dataset | DatasetError;
    try {
      result = parse(text);
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
    }
    if (!(result instanceof DatasetError)) assertEveryLineAccounted(text, result);
    outcomes.push(`${name}: ${result instanceof DatasetError ? 'refused' : `${result.pairs.length} pairs, ${result.malformed.length} malformed`} (${Math.round(performance.now() - started)} ms)`);
  }
  console.log(outcomes.map((o) => `  ${o}`).join('\n'));
});

test('bytes on disk: BOM, CRLF, invalid UTF-8, NUL, no final newline — loadDataset only throws DatasetError', { timeout: 5 * 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plens-fuzz-bytes-'));
  try {
    const file = path.join(dir, 'fuzz.jsonl');
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.boolean(),
        async (lines, bom, eol, flips, finalNewline) => {
          let bytes = Buffer.from((bom ? '\ufeff' : '') + lines.join(eol) + (finalNewline ? eol : ''), 'utf8');
          // Flip bytes anywhere: invalid UTF-8 sequences, stray NULs, broken structure.
          if (bytes.length) {
            bytes = Buffer.from(bytes);
            for (const [at, value] of flips) bytes[at % bytes.length] = value;
          }
          writeFileSync(file, bytes);
          const started = performance.now();
          try {
            const dataset = await loadDataset(file);
            for (const m of dataset.malformed) assert.ok(Number.isInteger(m.line) && m.line >= 1 && m.error.length > 0 && m.error.length <= MAX_REASON);
          } catch (error) {
            if (!(error instanceof DatasetError)) throw new Error(`loadDataset threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`, { cause: error });
          }
          assert.ok(performance.now() - started < TIME_BOUND_MS);
        },
      ),
      { numRuns: RUNS },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
