// The promise of in-place mode, checked on generated files: load → set labels → apply → reload gives
// the labels back, and every byte outside the rewritten records is the byte that was there.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { AnnotationLog, pairKeys, type ReviewLabel } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';
import { applyInPlace } from '../../src/core/export';

const scratch = mkdtempSync(path.join(tmpdir(), 'plens-export-property-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const FORMATS = ['hh-rlhf', 'trl-standard', 'trl-conversational'] as const;
type Format = (typeof FORMATS)[number];

/** Text with what makes JSON and transcripts interesting: quotes, backslashes, newlines, non-ASCII. */
const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '"', '\\', '\n', '\t', 'é', '🙂', '/'), maxLength: 6 });

interface PairSpec {
  prompt: string;
  chosen: string;
  rejected: string;
  explicitPrompt: boolean;
}

const pairSpec: fc.Arbitrary<PairSpec> = fc.record({ prompt: text, chosen: text, rejected: text, explicitPrompt: fc.boolean() });

function record(format: Format, p: PairSpec): Record<string, unknown> {
  switch (format) {
    case 'hh-rlhf':
      return { chosen: `\n\nHuman: ${p.prompt}\n\nAssistant: ${p.chosen}`, rejected: `\n\nHuman: ${p.prompt}\n\nAssistant: ${p.rejected}` };
    case 'trl-standard':
      return p.explicitPrompt ? { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected } : { chosen: p.prompt + p.chosen, rejected: p.prompt + p.rejected };
    case 'trl-conversational': {
      const user = { role: 'user', content: p.prompt };
      const turn = (content: string) => ({ role: 'assistant', content });
      return p.explicitPrompt
        ? { prompt: [user], chosen: [turn(p.chosen)], rejected: [turn(p.rejected)] }
        : { chosen: [user, turn(p.chosen)], rejected: [user, turn(p.rejected)] };
    }
  }
}

type Style = 'compact' | 'python' | 'python-ascii';

/** JSON as JavaScript writes it, or as Python's json.dumps does (spaces after separators, ASCII by default). */
function serialize(value: unknown, style: Style): string {
  if (style === 'compact') return JSON.stringify(value);
  const spaced = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(spaced).join(', ')}]`;
    if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${spaced(x)}`).join(', ')}}`;
    return JSON.stringify(v);
  };
  const text = spaced(value);
  return style === 'python' ? text : text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One line of a generated file: a pair record (padded with spaces or tabs), a blank line, or one that cannot be read. */
type Line =
  | { kind: 'pair'; pair: number; style: Style; before: string; after: string }
  | { kind: 'blank'; text: string }
  | { kind: 'malformed'; bytes: Buffer };

const padding = fc.constantFrom('', '', ' ', '\t', '  ');
const pairLine = (pool: number) =>
  fc.record({
    kind: fc.constant('pair' as const),
    pair: fc.nat(pool - 1),
    style: fc.constantFrom<Style>('compact', 'python', 'python-ascii'),
    before: padding,
    after: padding,
  });
const otherLine: fc.Arbitrary<Line> = fc.oneof(
  fc.record({ kind: fc.constant('blank' as const), text: padding }),
  fc.constantFrom<Line>(
    { kind: 'malformed', bytes: Buffer.from('{"chosen": "\\n\\nHuman: cut off') },
    { kind: 'malformed', bytes: Buffer.from('{"unrelated": true}') },
    { kind: 'malformed', bytes: Buffer.from('"a string, not a record"') },
    { kind: 'malformed', bytes: Buffer.from('{"chosen": "no rejected"}') },
    { kind: 'malformed', bytes: Buffer.concat([Buffer.from('{"chosen": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) },
  ),
);

const dataset = fc
  .record({
    format: fc.constantFrom(...FORMATS),
    // A small pool, so that identical pairs (whose keys count occurrences) are common.
    pool: fc.array(pairSpec, { minLength: 1, maxLength: 4 }),
    bom: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .chain((base) =>
    fc
      .record({
      lines: fc.array(fc.oneof({ weight: 3, arbitrary: pairLine(base.pool.length) }, { weight: 2, arbitrary: otherLine }), { minLength: 1, maxLength: 14 }),
      first: pairLine(base.pool.length),
      endings: fc.array(fc.constantFrom('\n', '\r\n'), { minLength: 15, maxLength: 15 }),
      labels: fc.array(fc.option(fc.constantFrom<ReviewLabel>('a', 'b', 'tie', 'both-bad'), { nil: undefined }), { minLength: 15, maxLength: 15 }),
      flags: fc.array(fc.boolean(), { minLength: 15, maxLength: 15 }),
      })
      .map((rest) => ({ ...base, ...rest })),
  );

let runs = 0;

describe('applyInPlace (property)', () => {
  it('gives the labels back and keeps every byte outside the rewritten records', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (d) => {
        // At least one pair, so the file holds something to detect and label.
        const lines = [d.first, ...d.lines];
        const parts: Buffer[] = d.bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
        /** Byte range of each pair line's JSON text, by line number. */
        const ranges = new Map<number, { start: number; end: number; value: Record<string, unknown>; style: Style }>();
        let offset = parts.length ? 3 : 0;
        lines.forEach((line, i) => {
          let bytes: Buffer;
          if (line.kind === 'pair') {
            const value = record(d.format, d.pool[line.pair]);
            const json = Buffer.from(serialize(value, line.style));
            const start = offset + Buffer.byteLength(line.before);
            ranges.set(i + 1, { start, end: start + json.length, value, style: line.style });
            bytes = Buffer.concat([Buffer.from(line.before), json, Buffer.from(line.after)]);
          } else bytes = line.kind === 'blank' ? Buffer.from(line.text) : line.bytes;
          const ending = i < lines.length - 1 || d.finalNewline ? Buffer.from(d.endings[i]) : Buffer.alloc(0);
          parts.push(bytes, ending);
          offset += bytes.length + ending.length;
        });
        const original = Buffer.concat(parts);
        const file = path.join(scratch, `${runs++}.jsonl`);
        writeFileSync(file, original);

        const before = await loadDataset(file, { format: d.format });
        const log = AnnotationLog.empty();
        const keys = pairKeys(before.pairs);
        before.pairs.forEach((pair, i) => {
          const label = d.labels[i];
          if (!label) return;
          log.record({ key: keys[i], line: pair.line, field: 'label', from: null, to: label, by: 'reviewer', at: '2025-01-01T00:00:00Z' });
          if (d.flags[i]) log.record({ key: keys[i], line: pair.line, field: 'flagged', from: null, to: true, by: 'reviewer', at: '2025-01-01T00:00:00Z' });
        });
        const sidecar = `${file}.plens-annotations.jsonl`;
        await log.save(sidecar);

        const saved = await AnnotationLog.load(sidecar);
        const report = await applyInPlace(file, saved, { format: d.format, by: 'applier' });
        await saved.save(sidecar);

        // Chosen / rejected data can say "B is better" (by swapping) but not a tie or "both bad".
        const labelOf = (i: number) => d.labels[i];
        const swappedLines = new Set(before.pairs.filter((_, i) => labelOf(i) === 'b').map((pair) => pair.line));
        const unapplied: Record<string, number> = {};
        before.pairs.forEach((_, i) => {
          const label = labelOf(i);
          const reason = `${label} not expressible in ${d.format}`;
          if (label === 'tie' || label === 'both-bad') unapplied[reason] = (unapplied[reason] ?? 0) + 1;
        });
        assert.equal(report.relabelled, swappedLines.size);
        assert.deepEqual(report.unapplied, unapplied);

        // Reload: the same records, each pair judged as the reviewer said.
        const afterwards = await loadDataset(file, { format: d.format });
        assert.deepEqual(afterwards.malformed, before.malformed);
        assert.equal(afterwards.pairs.length, before.pairs.length);
        const reloaded = await AnnotationLog.load(sidecar);
        const newKeys = pairKeys(afterwards.pairs);
        before.pairs.forEach((pair, i) => {
          const now = afterwards.pairs[i];
          assert.equal(now.line, pair.line);
          if (swappedLines.has(pair.line)) assert.deepEqual({ ...now, a: now.b, b: now.a }, pair, `line ${pair.line}: B is now chosen`);
          else assert.deepEqual(now, pair, `line ${pair.line} is unchanged`);
          // The annotations follow the pair to its new key; a "b" that is now the file's chosen side reads "a".
          const label = labelOf(i);
          const expected = label && { label: label === 'b' ? 'a' : label, ...(d.flags[i] ? { flagged: true } : {}) };
          assert.deepEqual(reloaded.get(newKeys[i]), expected, `annotations of line ${pair.line}`);
        });

        // Bytes: everything outside the swapped records' JSON text is as it was; each swapped record
        // is the swapped value in the style of the one it replaced.
        const written = readFileSync(file);
        let [from, at] = [0, 0];
        for (const [line, range] of [...ranges].filter(([line]) => swappedLines.has(line))) {
          const kept = original.subarray(from, range.start);
          assert.deepEqual(written.subarray(at, at + kept.length), kept, `bytes before line ${line}`);
          at += kept.length;
          const { chosen, rejected } = range.value;
          const expected = Buffer.from(serialize(replaceValues(range.value, { chosen: rejected, rejected: chosen }), range.style));
          assert.deepEqual(written.subarray(at, at + expected.length), expected, `line ${line} rewritten`);
          at += expected.length;
          from = range.end;
        }
        assert.deepEqual(written.subarray(at), original.subarray(from), 'bytes after the last rewritten record');
      }),
      { numRuns: 200 },
    );
  });
});

/** `value` with some keys' values replaced, every key where it was. */
function replaceValues(value: Record<string, unknown>, replaced: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k in replaced ? replaced[k] : v]));
}
