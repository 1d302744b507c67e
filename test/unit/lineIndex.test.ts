import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { DatasetError, loadDataset, openDatasetIndex, type Dataset, type PairEntry } from '../../src/core/dataset';
import { IndexError, LineIndex, RecordScanner, scanBytes, type RawRecord } from '../../src/core/lineIndex';

const fixtures = path.join(__dirname, '..', 'fixtures', 'formats');
const shared = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
const sharedSkip = existsSync(shared) ? false : `../shared/data is absent (${shared}); real-dataset tests need it`;

const dir = mkdtempSync(path.join(tmpdir(), 'plens-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function tempFile(content: Uint8Array | string): string {
  const file = path.join(dir, `f${files++}.jsonl`);
  writeFileSync(file, content);
  return file;
}

/** Every record of bytes pushed to a scanner in the given pieces. */
function scanInPieces(bytes: Buffer, cuts: number[]): RawRecord[] {
  const scanner = new RecordScanner();
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((x, y) => x - y), bytes.length]) {
    if (cut > from) scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  scanner.finish();
  return Array.from({ length: scanner.count }, (_, i) => {
    const [start, end] = scanner.span(i);
    return scanner.decode(i, bytes.subarray(start, end));
  });
}

async function readAll(index: LineIndex): Promise<RawRecord[]> {
  await index.done;
  return index.readRecords(0, index.count);
}

/** What a record reads as, for comparing: its line, and its text or the fact that it is not text. */
const summary = (r: RawRecord) => ('error' in r ? { line: r.line, invalid: true } : { line: r.line, text: r.text });

// ---------------------------------------------------------------------------------------------
// JSONL: the reference is the obvious line split, done on bytes.

type LineKind = { kind: 'record'; text: string } | { kind: 'blank'; text: string } | { kind: 'latin1'; text: string };
const lineArb: fc.Arbitrary<LineKind> = fc.oneof(
  fc.jsonValue().map((v) => ({ kind: 'record' as const, text: JSON.stringify({ v }) })),
  fc.string({ unit: 'grapheme' }).filter((s) => !/[\n\r]/.test(s) && s.trim() !== '').map((text) => ({ kind: 'record' as const, text })),
  fc.constantFrom('', ' ', '\t', '  \t ').map((text) => ({ kind: 'blank' as const, text })),
  fc.constantFrom('{"w":"Caf\xe9"}', '{"y":"\xff"}', '{"x":"\xe2\x82"}').map((text) => ({ kind: 'latin1' as const, text })),
);

function jsonlBytes(lines: LineKind[], eol: ('\n' | '\r\n')[], bom: boolean, finalNewline: boolean): Buffer {
  const parts: Buffer[] = bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
  lines.forEach((line, i) => {
    parts.push(Buffer.from(line.text, line.kind === 'latin1' ? 'latin1' : 'utf8'));
    if (i < lines.length - 1 || finalNewline) parts.push(Buffer.from(eol[i % eol.length]));
  });
  return Buffer.concat(parts);
}

function expectedJsonl(lines: LineKind[]) {
  const expected: ({ line: number; text: string } | { line: number; invalid: true })[] = [];
  lines.forEach((line, i) => {
    const bytes = Buffer.from(line.text, line.kind === 'latin1' ? 'latin1' : 'utf8');
    const text = bytes.toString('utf8').replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
    if (line.kind === 'blank') return;
    if (!isUtf8(bytes)) expected.push({ line: i + 1, invalid: true });
    else if (text) expected.push({ line: i + 1, text });
  });
  return expected;
}

describe('JSONL scanning', () => {
  it('finds every non-blank line, whatever the line endings, BOM, chunking or bad lines (property)', () => {
    fc.assert(
      fc.property(
        fc.array(lineArb, { maxLength: 30 }),
        fc.array(fc.constantFrom('\n' as const, '\r\n' as const), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat({ max: 2000 }), { maxLength: 12 }),
        (lines, eol, bom, finalNewline, cuts) => {
          const bytes = jsonlBytes(lines, eol, bom, finalNewline);
          // A file starting with "[" is a JSON array; that case has its own property below.
          fc.pre(!bytes.subarray(bom ? 3 : 0).toString('latin1').trimStart().startsWith('['));
          const expected = expectedJsonl(lines);
          assert.deepEqual(scanInPieces(bytes, cuts).map(summary), expected);
          assert.deepEqual(
            scanInPieces(bytes, [1, 2, 3, 4, 5]).map((r) => r.index),
            expected.map((_, i) => i),
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reads the same records from a file in small chunks as from memory (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 20 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 64 }),
        async (lines, bom, chunkSize) => {
          const bytes = jsonlBytes(lines, ['\r\n', '\n'], bom, false);
          fc.pre(!bytes.subarray(bom ? 3 : 0).toString('latin1').trimStart().startsWith('['));
          const index = await LineIndex.open(tempFile(bytes), { chunkSize });
          try {
            assert.deepEqual((await readAll(index)).map(summary), expectedJsonl(lines));
          } finally {
            await index.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reports invalid UTF-8 with the record and the byte, and NUL bytes as a likely UTF-16 file', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"a":"ok"}\n'),
      Buffer.from('{"a":"na\xefve"}\n', 'latin1'),
      Buffer.from('{"a":"x\0y"}\n'),
    ]);
    const records = scanInPieces(bytes, []);
    assert.deepEqual(records[0], { index: 0, line: 1, text: '{"a":"ok"}' });
    assert.ok('error' in records[1]);
    assert.equal(records[1].line, 2);
    assert.match(records[1].error, /^not valid UTF-8: byte 0xEF at byte 9 of the record \(after "\{\\"a\\":\\"na"\)/);
    assert.ok('error' in records[2]);
    assert.match(records[2].error, /NUL bytes: the file may be UTF-16/);
  });

  it('keeps a broken BOM as part of the first record rather than dropping it', () => {
    const records = scanInPieces(Buffer.from([0xef, 0xbb, 0x0a, 0x7b, 0x7d]), [1, 2]);
    assert.deepEqual(records.map(summary), [
      { line: 1, invalid: true },
      { line: 2, text: '{}' },
    ]);
  });

  it('rejects UTF-16 files as a whole', () => {
    assert.throws(() => scanBytes(Buffer.from([0xff, 0xfe, 0x7b, 0x00])), IndexError);
    assert.throws(() => scanBytes(Buffer.from([0xfe, 0xff, 0x00, 0x7b])), /looks like UTF-16/);
  });

  it('drops a BOM left inside the file by concatenating files', () => {
    const records = scanInPieces(Buffer.from('{"a":1}\n\ufeff{"b":2}\n'), []);
    assert.deepEqual(records.map(summary), [
      { line: 1, text: '{"a":1}' },
      { line: 2, text: '{"b":2}' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// JSON arrays: elements are found by scanning strings and nesting in bytes.

/** An array's text with random spacing, and where each element starts. */
function arrayText(elements: string[], spaces: string[]): { text: string; starts: number[] } {
  const space = (i: number) => spaces[i % spaces.length] ?? '';
  let text = `${space(0)}[${space(1)}`;
  const starts: number[] = [];
  elements.forEach((element, i) => {
    if (i > 0) text += `${space(i + 2)},${space(i + 3)}`;
    starts.push(text.length);
    text += element;
  });
  return { text: `${text}${space(elements.length + 4)}]${space(2)}`, starts };
}

describe('JSON array scanning', () => {
  it('finds each element and the line it starts on, in any chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 12 }),
        fc.array(fc.constantFrom('', ' ', '\n', '\r\n', '\n  ', '\t'), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(undefined, 2, '\t'),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 12 }),
        (values, spaces, indent, cuts) => {
          const elements = values.map((v) => JSON.stringify(v, null, indent));
          const { text, starts } = arrayText(elements, spaces);
          const bytes = Buffer.from(text);
          const records = scanInPieces(bytes, cuts);
          assert.deepEqual(
            records.map((r) => ('text' in r ? JSON.parse(r.text) : r)),
            elements.map((e) => JSON.parse(e)),
          );
          assert.deepEqual(
            records.map((r) => r.line),
            starts.map((start) => text.slice(0, start).split('\n').length),
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('escapes and quotes across chunk boundaries do not end strings early', () => {
    const text = '[{"a":"\\\\"},{"b":"x\\"],{"},"c\\\\\\""]';
    for (let cut = 1; cut < text.length; cut++) {
      const records = scanInPieces(Buffer.from(text), [cut, cut + 1]);
      assert.deepEqual(
        records.map((r) => ('text' in r ? JSON.parse(r.text) : r)),
        JSON.parse(text),
        `cut at ${cut}`,
      );
    }
  });

  it('reads the complete elements of a truncated array and reports the cut as a record', () => {
    const decoded = (text: string) => {
      const bytes = Buffer.from(text);
      const scanner = scanBytes(bytes);
      assert.equal(scanner.truncated, true, text);
      return Array.from({ length: scanner.count }, (_, i) => scanner.decode(i, bytes.subarray(...scanner.span(i))));
    };
    // Cut inside the second element, after a comma, and after a whole element with no comma.
    for (const [text, cutLine, inside] of [
      ['[{"a":1},\n{"a"', 2, true],
      ['[{"a":1},\n{"a":"x\\', 2, true],
      ['[{"a":1},\n', 2, false],
      ['[{"a":1}', 1, false],
    ] as const) {
      const records = decoded(text);
      assert.deepEqual(records.slice(0, -1), [{ index: 0, line: 1, text: '{"a":1}' }], text);
      const cut = records.at(-1)!;
      assert.equal(cut.line, cutLine, text);
      assert.ok('error' in cut && cut.error.includes(inside ? 'ends inside this record' : 'ends here') && /cut short/.test(cut.error), text);
    }
    assert.equal(scanBytes(Buffer.from('[{"a":1}]')).truncated, false);
    assert.throws(() => scanBytes(Buffer.from('[1,2]\n{"a":1}\n')), /line 2: unexpected content after the JSON array/);
  });
});

// ---------------------------------------------------------------------------------------------
// The file index: background indexing, first records early, progress, cancellation, big offsets.

function linesFile(count: number, width = 60): string {
  const body = Array.from({ length: count }, (_, i) => JSON.stringify({ prompt: `p${i}`, chosen: 'c'.repeat(width), rejected: 'r' })).join('\n');
  return tempFile(`${body}\n`);
}

describe('LineIndex', () => {
  it('serves the first records before the file is indexed, and reports progress up to the end', async () => {
    const file = linesFile(5000);
    const progress: number[] = [];
    const index = await LineIndex.open(file, { chunkSize: 4096, onProgress: (p) => progress.push(p.bytesIndexed) });
    try {
      assert.ok((await index.whenCount(50)) >= 50);
      assert.equal(index.complete, false);
      const first = await index.readRecords(0, 50);
      assert.deepEqual(JSON.parse((first[49] as { text: string }).text).prompt, 'p49');
      assert.equal(await index.done, 5000);
      assert.equal(index.complete, true);
      assert.deepEqual(
        progress,
        [...progress].sort((x, y) => x - y),
      );
      assert.equal(progress.at(-1), statSync(file).size);
      const last = await index.readRecord(4999);
      assert.deepEqual(last, { index: 4999, line: 5000, text: JSON.parse(JSON.stringify(last)).text });
      assert.equal(JSON.parse((last as { text: string }).text).prompt, 'p4999');
      await assert.rejects(index.readRecords(4999, 5001), RangeError);
    } finally {
      await index.close();
    }
  });

  it('stops when cancelled; what was indexed stays readable until closed', async () => {
    const controller = new AbortController();
    const index = await LineIndex.open(linesFile(5000), { chunkSize: 4096, signal: controller.signal });
    await index.whenCount(10);
    controller.abort();
    await assert.rejects(index.done, { name: 'AbortError' });
    assert.equal(index.complete, false);
    assert.ok(index.count >= 10 && index.count < 5000);
    assert.equal(JSON.parse(((await index.readRecord(9)) as { text: string }).text).prompt, 'p9');
    await assert.rejects(index.whenCount(5000), { name: 'AbortError' });
    await index.close();
  });

  it('close() stops indexing without an unhandled rejection', async () => {
    const index = await LineIndex.open(linesFile(3000), { chunkSize: 1024 });
    await index.close();
    assert.equal(index.complete, false);
  });

  it('reads a line of tens of megabytes', async () => {
    const long = 'x'.repeat(30 << 20);
    const file = tempFile(`{"a":1}\r\n{"long":"${long}"}\r\n\r\n{"b":2}`);
    const index = await LineIndex.open(file);
    try {
      assert.equal(await index.done, 3);
      const records = await index.readRecords(0, 3);
      assert.equal((records[1] as { text: string }).text.length, long.length + 11);
      assert.deepEqual(records[2], { index: 2, line: 4, text: '{"b":2}' });
    } finally {
      await index.close();
    }
  });

  it('indexes past 4 GiB (a sparse file)', async (t) => {
    const file = path.join(dir, 'sparse.jsonl');
    const far = 4.5 * 2 ** 30;
    const handle = await open(file, 'w');
    await handle.write('{"a":1}\n', 0);
    await handle.write('\n{"b":2}\n', far);
    await handle.close();
    try {
      if (statSync(file).blocks * 512 > 2 ** 30) return t.skip('this filesystem does not keep files sparse');
      const index = await LineIndex.open(file, { chunkSize: 16 << 20 });
      try {
        assert.equal(await index.done, 3);
        assert.deepEqual(await index.readRecord(2), { index: 2, line: 3, text: '{"b":2}' });
        assert.deepEqual(await index.readRecord(0), { index: 0, line: 1, text: '{"a":1}' });
      } finally {
        await index.close();
      }
    } finally {
      rmSync(file);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// openDatasetIndex reads exactly what loadDataset reads.

function entriesOf(dataset: Dataset): PairEntry[] {
  const entries = [
    ...dataset.pairs.map((pair) => ({ line: pair.line, entry: { pair } })),
    ...dataset.malformed.map((malformed) => ({ line: malformed.line, entry: { malformed } })),
  ].sort((x, y) => x.line - y.line);
  return entries.map(({ entry }, index) => ({ index, ...entry }));
}

async function indexEntries(file: string, chunkSize?: number): Promise<{ format: string; entries: PairEntry[] }> {
  const index = await openDatasetIndex(file, { chunkSize });
  try {
    const count = await index.done;
    return { format: index.format.name, entries: await index.pairs(0, count) };
  } finally {
    await index.close();
  }
}

describe('openDatasetIndex', () => {
  it('agrees with loadDataset on every fixture, in tiny chunks too', async () => {
    for (const name of readdirSync(fixtures)) {
      const file = path.join(fixtures, name);
      const loaded = await loadDataset(file).catch((error: Error) => error);
      for (const chunkSize of [undefined, 7]) {
        const indexed = await indexEntries(file, chunkSize).catch((error: Error) => error);
        if (loaded instanceof Error) {
          assert.ok(indexed instanceof DatasetError, name);
          assert.equal(indexed.message, loaded.message, name);
        } else {
          assert.ok(!(indexed instanceof Error), `${name}: ${indexed}`);
          assert.equal(indexed.format, loaded.format.name, name);
          assert.deepEqual(indexed.entries, entriesOf(loaded), name);
        }
      }
    }
  });

  it('agrees with loadDataset on the shared real files', { skip: sharedSkip }, async () => {
    const files = [
      'hh-rlhf-helpful-base-test/test.jsonl',
      'llama-factory-dpo-demo/dpo_en_demo.json',
      'llama-factory-dpo-demo/v1_dpo_demo.jsonl',
      'pandalm-testset-v1/testset-v1.json',
      'llmbar/LLMBar/Natural/dataset.json',
      'llmbar/Processed/MT-Bench/dataset.json',
    ];
    for (const name of files) {
      const file = path.join(shared, name);
      const loaded = await loadDataset(file);
      const indexed = await indexEntries(file, 64 << 10);
      assert.equal(indexed.format, loaded.format.name, name);
      assert.deepEqual(indexed.entries, entriesOf(loaded), name);
    }
    await assert.rejects(openDatasetIndex(path.join(shared, 'arena-hard-battles', 'arena_hard_battles.jsonl')), /arena battle outcomes without text/);
  });

  it('knows the format from the first records, before the file is indexed', async () => {
    const index = await openDatasetIndex(linesFile(20000), { chunkSize: 8192 });
    try {
      assert.equal(index.format.name, 'trl-standard');
      assert.equal(index.complete, false);
      const page = await index.pairs(0, 50);
      assert.deepEqual(
        page.map((e) => ('pair' in e ? e.pair.prompt[0].content : e.malformed.error)),
        Array.from({ length: 50 }, (_, i) => `p${i}`),
      );
    } finally {
      await index.close();
    }
  });

  it('indexes the complete records of a truncated array and reports the cut', async () => {
    const records = Array.from({ length: 300 }, () => '{"input":"i","output_1":"a","output_2":"b","label":1}');
    const file = tempFile(`[${records.join(',\n')}, {"inp`);
    const index = await openDatasetIndex(file, { chunkSize: 256 });
    try {
      assert.equal(index.format.name, 'llmbar');
      assert.equal(await index.done, 301);
      const entries = await index.pairs(0, 301);
      assert.equal(entries.filter((e) => 'pair' in e).length, 300);
      const cut = entries[300];
      assert.ok('malformed' in cut && cut.malformed.line === 300 && /ends inside this record.*cut short/.test(cut.malformed.error));
    } finally {
      await index.close();
    }
  });

  it('names the file when it cannot be opened or has no records', async () => {
    await assert.rejects(openDatasetIndex(path.join(dir, 'missing.jsonl')), /missing\.jsonl: cannot read the file/);
    await assert.rejects(openDatasetIndex(tempFile('\n \r\n')), /: the file has no records/);
    await assert.rejects(openDatasetIndex(tempFile('nope\n{bad\n')), /: no record in the file is valid JSON/);
  });
});
