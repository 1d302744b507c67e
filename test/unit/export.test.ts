import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AnnotationLog, pairKeys, type Annotation, type ReviewLabel } from '../../src/core/annotations';
import { DatasetStream, loadDataset, type Dataset, type StreamedRecord } from '../../src/core/dataset';
import { applyInPlace, exportDataset, ExportError, serializeLike, type ExportReport } from '../../src/core/export';
import { formatByName } from '../../src/core/formats';
import type { Pair } from '../../src/core/pair';

const fixtures = path.join(__dirname, '..', 'fixtures', 'formats');
const fixture = (name: string) => path.join(fixtures, name);
const shared = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
const scratch = mkdtempSync(path.join(tmpdir(), 'plens-export-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
const scratchFile = (name: string) => path.join(scratch, `${files++}-${name}`);

/** An annotation log holding `annotate(i)` for pair i of `dataset`, as the editor would record it. */
function annotations(dataset: Dataset, annotate: (i: number, pair: Pair) => Annotation | undefined): AnnotationLog {
  const log = AnnotationLog.empty();
  pairKeys(dataset.pairs).forEach((key, i) => {
    const annotation = annotate(i, dataset.pairs[i]) ?? {};
    for (const [field, to] of Object.entries(annotation)) {
      log.record({ key, line: dataset.pairs[i].line, field: field as keyof Annotation, from: null, to, by: 'test', at: '2025-01-01T00:00:00Z' });
    }
  });
  return log;
}

/** The label a pair states, "both bad" included (Chatbot Arena's `tie (bothbad)`). */
const said = (pair: Pair): ReviewLabel | null => (pair.label === 'tie' && pair.meta?.bothBad ? 'both-bad' : pair.label);

/** Asserts that `after` is the pair `before` judged `label`, whichever way round its sides are stored. */
function assertSays(after: Pair, before: Pair, label: ReviewLabel | null, where: string): void {
  assert.deepEqual(after.prompt, before.prompt, where);
  const swapped = JSON.stringify([after.a, after.b]) !== JSON.stringify([before.a, before.b]);
  if (swapped) assert.deepEqual([after.a, after.b], [before.b, before.a], where);
  if (label === 'a' || label === 'b') {
    assert.ok(after.label === 'a' || after.label === 'b', `${where}: label ${after.label}`);
    const preferred = after.label === 'a' ? after.a : after.b;
    assert.deepEqual(preferred, label === 'a' ? before.a : before.b, `${where}: preferred response`);
  } else {
    assert.equal(said(after), label, where);
  }
}

const LABELS: readonly ReviewLabel[] = ['a', 'b', 'tie', 'both-bad'];

/** Every fixture with the labels its format can write. */
const EXPRESSIBLE: readonly [string, readonly ReviewLabel[]][] = [
  ['hh-rlhf.jsonl', ['a', 'b']],
  ['trl-standard-explicit.jsonl', ['a', 'b']],
  ['trl-standard-implicit.jsonl', ['a', 'b']],
  ['trl-conversational-explicit.jsonl', ['a', 'b']],
  ['trl-conversational-implicit.jsonl', ['a', 'b']],
  ['tulu-2.5.jsonl', ['a', 'b']],
  ['ultrafeedback-binarized.jsonl', ['a', 'b']],
  ['sharegpt-dpo.json', ['a', 'b']],
  ['llama-factory-messages.jsonl', ['a', 'b']],
  ['llmbar.json', ['a', 'b']],
  ['summarize-from-feedback.jsonl', ['a', 'b']],
  ['pandalm.json', ['a', 'b', 'tie']],
  ['helpsteer3.jsonl', ['a', 'b', 'tie']],
  ['arena-kaggle.jsonl', ['a', 'b', 'tie']],
  ['chatbot-arena.jsonl', ['a', 'b', 'tie', 'both-bad']],
  ['label-studio-pairwise.json', []],
];

describe('DatasetStream', () => {
  it('reads every record in order with its exact bytes, whatever the chunk boundaries', async () => {
    const crlfWithBom = scratchFile('bom.jsonl');
    writeFileSync(crlfWithBom, '\uFEFF\r\n' + readFileSync(fixture('hh-rlhf.jsonl'), 'utf8'));
    for (const file of [...EXPRESSIBLE.map(([name]) => fixture(name)), crlfWithBom]) {
      const expected = await loadDataset(file);
      const bytes = readFileSync(file);
      for (const chunkSize of [1, 3, 7, 64]) {
        const stream = new DatasetStream(file, expected.format, { chunkSize });
        const records: StreamedRecord[] = [];
        for await (const record of stream) records.push(record);
        const where = `${path.basename(file)}, chunks of ${chunkSize}`;
        assert.equal(stream.container, file.endsWith('.json') ? 'array' : 'jsonl', where);
        assert.deepEqual(records.flatMap((r) => ('pair' in r ? [r.pair] : [])), expected.pairs, where);
        assert.deepEqual(records.flatMap((r) => ('malformed' in r ? [r.malformed] : [])), expected.malformed, where);
        for (const record of records) {
          if (!('pair' in record)) continue;
          assert.equal(bytes.subarray(record.start, record.end).toString(), record.text, where);
          assert.deepEqual(JSON.parse(record.text), record.record, where);
        }
      }
    }
  });
});

describe('relabelling every format', () => {
  for (const [name, expressible] of EXPRESSIBLE) {
    for (const label of LABELS) {
      it(`${name}: every pair set to ${label}`, async () => {
        const input = await loadDataset(fixture(name));
        const format = input.format.name;
        const log = annotations(input, () => ({ label }));
        const unchanged = input.pairs.filter((pair) => said(pair) === label).length;
        const canWrite = expressible.includes(label);
        const changed = input.pairs.length - unchanged;

        const out = scratchFile(name);
        const report = await exportDataset(fixture(name), out, { to: 'same', annotations: log });
        const dropped: ExportReport['dropped'] = {};
        if (input.malformed.length) dropped.malformed = input.malformed.length;
        if (!canWrite && changed) dropped[`${label} not expressible in ${format}`] = changed;
        assert.deepEqual(report, { format, written: canWrite ? input.pairs.length : unchanged, dropped, relabelled: canWrite ? changed : 0 });
        const kept = input.pairs.filter((pair) => canWrite || said(pair) === label);
        if (kept.length === 0) assert.equal(readFileSync(out, 'utf8'), name.endsWith('.json') ? '[]\n' : '');
        else {
          const exported = await loadDataset(out, { format });
          assert.deepEqual(exported.malformed, []);
          assert.equal(exported.pairs.length, kept.length);
          kept.forEach((pair, i) => assertSays(exported.pairs[i], pair, label, `${name} line ${pair.line}`));
        }

        // In place: the same rewrite, nothing dropped, records that cannot say it left as they are.
        const copy = scratchFile(name);
        copyFileSync(fixture(name), copy);
        const applied = await applyInPlace(copy, log, { by: 'test' });
        assert.equal(applied.relabelled, canWrite ? changed : 0);
        assert.deepEqual(applied.unapplied, !canWrite && changed ? { [`${label} not expressible in ${format}`]: changed } : {});
        const reread = await loadDataset(copy, { format });
        assert.deepEqual(reread.malformed, input.malformed);
        input.pairs.forEach((pair, i) => assertSays(reread.pairs[i], pair, canWrite ? label : said(pair), `${name} line ${pair.line} in place`));
      });
    }
  }
});

describe('how each format writes a label', () => {
  const relabel = (format: string, record: Record<string, unknown>, label: ReviewLabel) => formatByName(format)!.relabel?.(record, label);

  it('chosen / rejected formats exchange the sides, and what belongs to them', () => {
    assert.deepEqual(relabel('hh-rlhf', { chosen: 'x', rejected: 'y', id: 1 }, 'b'), { chosen: 'y', rejected: 'x', id: 1 });
    assert.deepEqual(relabel('hh-rlhf', { chosen: 'x', rejected: 'y' }, 'a'), { chosen: 'x', rejected: 'y' });
    assert.equal(relabel('trl-standard', { chosen: 'x', rejected: 'y' }, 'tie'), undefined);
    assert.equal(relabel('sharegpt-dpo', { chosen: {}, rejected: {} }, 'both-bad'), undefined);
    assert.deepEqual(relabel('llama-factory-messages', { chosen_messages: 1, rejected_messages: 2 }, 'b'), { chosen_messages: 2, rejected_messages: 1 });
    const chosen = [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'good' }];
    const rejected = [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'bad' }];
    const record = { prompt: 'q', chosen, rejected, messages: chosen, score_chosen: 8.0, score_rejected: 5.0 };
    assert.deepEqual(relabel('ultrafeedback-binarized', record, 'b'), {
      prompt: 'q',
      chosen: rejected,
      rejected: chosen,
      messages: rejected,
      score_chosen: 5,
      score_rejected: 8,
    });
  });

  it('judgement formats write their own label field', () => {
    assert.deepEqual(relabel('llmbar', { output_1: 'x', output_2: 'y', label: 1 }, 'b'), { output_1: 'x', output_2: 'y', label: 2 });
    assert.deepEqual(relabel('llmbar', { label: '2' }, 'a'), { label: '1' });
    assert.equal(relabel('llmbar', { label: 1 }, 'tie'), undefined);
    assert.deepEqual(relabel('pandalm', { annotator1: 1, annotator2: 2, annotator3: null }, 'tie'), { annotator1: 0, annotator2: 0, annotator3: 0 });
    assert.deepEqual(relabel('pandalm', { annotator1: 1, annotator2: 1, annotator3: 1 }, 'b'), { annotator1: 2, annotator2: 2, annotator3: 2 });
    assert.equal(relabel('pandalm', { annotator1: 1 }, 'both-bad'), undefined);
    assert.deepEqual(relabel('summarize-from-feedback', { choice: 0 }, 'b'), { choice: 1 });
    assert.equal(relabel('summarize-from-feedback', { choice: 0 }, 'tie'), undefined);
    assert.equal(formatByName('label-studio-pairwise')!.relabel, undefined);
  });

  it('arena formats: winner names, one-hot columns in the file’s own spelling', () => {
    const winners = LABELS.map((label) => relabel('chatbot-arena', { winner: 'model_a' }, label)?.winner);
    assert.deepEqual(winners, ['model_a', 'model_b', 'tie', 'tie (bothbad)']);
    const hot = { winner_model_a: 1, winner_model_b: 0, winner_tie: 0 };
    assert.deepEqual(relabel('arena-kaggle', { ...hot, id: 7 }, 'tie'), { winner_model_a: 0, winner_model_b: 0, winner_tie: 1, id: 7 });
    assert.deepEqual(relabel('arena-kaggle', { winner_model_a: true, winner_model_b: false, winner_tie: false }, 'b'), {
      winner_model_a: false,
      winner_model_b: true,
      winner_tie: false,
    });
    assert.equal(relabel('arena-kaggle', hot, 'both-bad'), undefined);
    // The WSDM Cup variant names the winner, "both bad" included.
    assert.deepEqual(relabel('arena-kaggle', { winner: 'model_a' }, 'both-bad'), { winner: 'tie (bothbad)' });
  });

  it('HelpSteer3 flips the sign of overall_preference and keeps its strength', () => {
    assert.equal(relabel('helpsteer3', { overall_preference: -2 }, 'b')?.overall_preference, 2);
    assert.equal(relabel('helpsteer3', { overall_preference: 3 }, 'a')?.overall_preference, -3);
    assert.equal(relabel('helpsteer3', { overall_preference: 0 }, 'a')?.overall_preference, -1);
    assert.equal(relabel('helpsteer3', { overall_preference: 3 }, 'tie')?.overall_preference, 0);
    assert.equal(relabel('helpsteer3', { overall_preference: 3 }, 'both-bad'), undefined);
  });
});

describe('export in the original format', () => {
  it('copies unchanged records byte for byte and rewrites changed ones in their own style', async () => {
    const input = await loadDataset(fixture('hh-rlhf.jsonl'));
    // The fixture has CRLF line endings, which the copy keeps.
    const lines = readFileSync(fixture('hh-rlhf.jsonl'), 'utf8').split('\r\n');
    const out = scratchFile('hh.jsonl');
    const log = annotations(input, (i) => (i === 3 ? { label: 'b' } : i === 0 ? { label: 'a', note: 'right as it is' } : undefined));
    const report = await exportDataset(fixture('hh-rlhf.jsonl'), out, { to: 'same', annotations: log });
    assert.deepEqual(report, { format: 'hh-rlhf', written: 4, dropped: { malformed: 2 }, relabelled: 1 });
    const written = readFileSync(out, 'utf8').split('\r\n');
    assert.deepEqual(written.slice(0, 3), [lines[0], lines[1], lines[4]]);
    const colour = JSON.parse(lines[6]);
    // The source puts a space after ',' and ':' (Python's json.dumps): so does the rewrite.
    assert.equal(written[3], `{"chosen": ${JSON.stringify(colour.rejected)}, "rejected": ${JSON.stringify(colour.chosen)}}`);
    assert.equal(written[4], '');
  });

  it('writes a JSON array for a JSON array, records kept as they were', async () => {
    const out = scratchFile('pandalm.json');
    const input = await loadDataset(fixture('pandalm.json'));
    const log = annotations(input, (i) => (i === 2 ? { label: 'b' } : undefined));
    const report = await exportDataset(fixture('pandalm.json'), out, { to: 'same', annotations: log });
    assert.equal(report.relabelled, 1);
    const source = readFileSync(fixture('pandalm.json'), 'utf8');
    const text = readFileSync(out, 'utf8');
    const records = JSON.parse(text) as Record<string, unknown>[];
    assert.deepEqual(records.slice(0, 2), JSON.parse(source).slice(0, 2));
    assert.deepEqual(records[2], { ...JSON.parse(source)[2], annotator1: 2, annotator2: 2, annotator3: 2 });
    // The first two elements are the source's own text, indentation included.
    const element = /\{[^{}]*"idx": 1[^{}]*\}/.exec(source)![0];
    assert.equal(text.includes(element), true, 'the source element is in the export');
  });

  it('refuses to overwrite the dataset and leaves nothing behind when it fails', async () => {
    const dataset = scratchFile('own.jsonl');
    copyFileSync(fixture('trl-standard-explicit.jsonl'), dataset);
    const options = { to: 'same', annotations: AnnotationLog.empty() } as const;
    await assert.rejects(exportDataset(dataset, dataset, options), ExportError);
    const link = scratchFile('link.jsonl');
    symlinkSync(dataset, link);
    await assert.rejects(exportDataset(dataset, link, options), /is the dataset itself/);
    await assert.rejects(exportDataset(dataset, scratchFile('x'), { ...options, to: 'csv' as 'same' }), /unknown export target/);
    await assert.rejects(exportDataset(dataset, path.join(scratch, 'no-such-folder', 'out.jsonl'), options), /cannot write .*out\.jsonl: ENOENT/);

    const out = scratchFile('kept.jsonl');
    writeFileSync(out, 'an earlier export\n');
    const before = new Set(readdirSync(scratch));
    await assert.rejects(exportDataset(dataset, out, { ...options, signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(readFileSync(out, 'utf8'), 'an earlier export\n');
    assert.deepEqual(new Set(readdirSync(scratch)), before);
  });
});

describe('drop rules', () => {
  // chatbot-arena.jsonl: pairs labelled a, tie (bothbad), tie, b, and one malformed record.
  const file = fixture('chatbot-arena.jsonl');

  it('drops flagged and both-bad pairs, the file’s "tie (bothbad)" included, each counted once', async () => {
    const input = await loadDataset(file);
    const log = annotations(input, (i) => [{ flagged: true, label: 'both-bad' as const }, undefined, { label: 'both-bad' as const }, { flagged: false }][i]);
    const out = scratchFile('arena.jsonl');
    const report = await exportDataset(file, out, { to: 'same', drop: ['flagged', 'both-bad'], annotations: log });
    assert.deepEqual(report, { format: 'chatbot-arena', written: 1, dropped: { malformed: 1, flagged: 1, 'both-bad': 2 }, relabelled: 0 });
    assert.deepEqual((await loadDataset(out)).pairs.map((pair) => pair.label), ['b']);
  });

  it('drops unreviewed pairs the model disagrees with, and says how many it could not judge', async () => {
    const input = await loadDataset(file);
    const log = annotations(input, (i) => (i === 3 ? { reviewed: true } : i === 2 ? { label: 'a' } : undefined));
    // Model prefers: b (disagrees with a), none (both bad), a (agrees with the reviewer's a), a (disagrees, but reviewed).
    const scores = [{ rewardA: 0, rewardB: 1 }, { rewardA: 1, rewardB: 0 }, { rewardA: 2, rewardB: 1 }, { rewardA: 1, rewardB: 0 }];
    const report = await exportDataset(file, scratchFile('arena.jsonl'), {
      to: 'same',
      drop: ['unreviewed-disagreements'],
      annotations: log,
      scoreOf: (ordinal) => (ordinal === 2 ? undefined : scores[ordinal]),
    });
    assert.deepEqual(report, { format: 'chatbot-arena', written: 3, dropped: { malformed: 1, 'unreviewed-disagreements': 1 }, relabelled: 1, unscored: 1 });
  });

  it('needs scores to find disagreements', async () => {
    await assert.rejects(
      exportDataset(file, scratchFile('arena.jsonl'), { to: 'same', drop: ['unreviewed-disagreements'], annotations: AnnotationLog.empty() }),
      /needs the reward model's scores/,
    );
  });
});

describe('export to TRL', () => {
  it('trl-standard writes strings and sends multi-turn pairs to trl-conversational', async () => {
    const input = await loadDataset(fixture('hh-rlhf.jsonl'));
    const out = scratchFile('standard.jsonl');
    const report = await exportDataset(fixture('hh-rlhf.jsonl'), out, {
      to: 'trl-standard',
      annotations: annotations(input, (i) => (i === 0 ? { label: 'b' } : undefined)),
    });
    const multiTurn = 'multi-turn or system prompt not expressible in trl-standard (use trl-conversational)';
    assert.deepEqual(report, { format: 'hh-rlhf', written: 3, dropped: { malformed: 2, [multiTurn]: 1 }, relabelled: 1 });
    const records = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(records[0], {
      prompt: 'How do I make a pinata?',
      chosen: 'A pinata is a party game.',
      rejected: 'Get a balloon and cover it in papier-mache.',
    });
    assert.equal((await loadDataset(out)).format.name, 'trl-standard');
  });

  it('trl-conversational keeps every turn and role', async () => {
    const out = scratchFile('conversational.jsonl');
    const report = await exportDataset(fixture('hh-rlhf.jsonl'), out, { to: 'trl-conversational', annotations: AnnotationLog.empty() });
    assert.equal(report.written, 4);
    const joke = JSON.parse(readFileSync(out, 'utf8').split('\n')[1]);
    assert.deepEqual(joke.prompt.map((m: { role: string }) => m.role), ['user', 'assistant', 'user']);
    assert.deepEqual(joke.rejected, [{ role: 'assistant', content: 'No.' }]);
    const exported = await loadDataset(out);
    assert.equal(exported.format.name, 'trl-conversational');
    assert.deepEqual(exported.pairs[1].prompt, (await loadDataset(fixture('hh-rlhf.jsonl'))).pairs[1].prompt);
  });

  it('drops ties, "both bad" and unlabelled pairs: they have no chosen response', async () => {
    const none = AnnotationLog.empty();
    const arena = await exportDataset(fixture('chatbot-arena.jsonl'), scratchFile('arena.json'), { to: 'trl-conversational', annotations: none });
    assert.deepEqual(arena.dropped, {
      malformed: 1,
      'both-bad not expressible in trl-conversational': 1,
      'tie not expressible in trl-conversational': 1,
    });
    const studio = await exportDataset(fixture('label-studio-pairwise.json'), scratchFile('studio.json'), { to: 'trl-standard', annotations: none });
    assert.deepEqual(studio.dropped, { malformed: 1, 'unlabelled not expressible in trl-standard': 1 });
  });

  it('writes a JSON array when the input is one', async () => {
    const out = scratchFile('llmbar.json');
    await exportDataset(fixture('llmbar.json'), out, { to: 'trl-standard', annotations: AnnotationLog.empty() });
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), [
      { prompt: 'Summarize: cats.', chosen: 'Cats are pets.', rejected: 'Dogs.' },
      { prompt: 'Add 1+1', chosen: '2', rejected: '3' },
    ]);
  });
});

describe('applying labels in place', () => {
  it('changes only the changed record of a pretty-printed array, in its own indentation', async () => {
    const file = scratchFile('llmbar.json');
    copyFileSync(fixture('llmbar.json'), file);
    const input = await loadDataset(file);
    const report = await applyInPlace(file, annotations(input, (i) => (i === 0 ? { label: 'b' } : { label: 'b' })), { by: 'test' });
    assert.deepEqual(report, { format: 'llmbar', relabelled: 1, unapplied: {}, rekeyed: 0 });
    assert.equal(readFileSync(file, 'utf8'), readFileSync(fixture('llmbar.json'), 'utf8').replace('"label": 1', '"label": 2'));
  });

  it('keeps BOM, CRLF, blank and malformed lines and the missing final newline', async () => {
    const source = readFileSync(fixture('hh-rlhf.jsonl'), 'utf8').replaceAll('\r\n', '\n');
    const original = Buffer.from('\uFEFF' + source.trimEnd().replaceAll('\n', '\r\n'));
    const file = scratchFile('crlf.jsonl');
    writeFileSync(file, original);
    const input = await loadDataset(file);
    await applyInPlace(file, annotations(input, (i) => (i === 0 ? { label: 'b' } : undefined)), { by: 'test' });
    const first = JSON.parse(source.split('\n')[0]);
    const rewritten = `{"chosen": ${JSON.stringify(first.rejected)}, "rejected": ${JSON.stringify(first.chosen)}}`;
    const end = original.indexOf('\r\n');
    assert.deepEqual(readFileSync(file), Buffer.concat([original.subarray(0, 3), Buffer.from(rewritten), original.subarray(end)]));
  });

  it('does not touch a file with nothing to apply, and reports what the format cannot say', async () => {
    const file = scratchFile('hh.jsonl');
    copyFileSync(fixture('hh-rlhf.jsonl'), file);
    const before = statSync(file);
    const entries = readdirSync(scratch).length;
    const input = await loadDataset(file);
    const report = await applyInPlace(file, annotations(input, (i) => (i === 0 ? { label: 'tie' } : i === 1 ? { label: 'a' } : undefined)), { by: 'test' });
    assert.deepEqual(report, { format: 'hh-rlhf', relabelled: 0, unapplied: { 'tie not expressible in hh-rlhf': 1 }, rekeyed: 0 });
    assert.equal(statSync(file).mtimeMs, before.mtimeMs);
    assert.equal(readdirSync(scratch).length, entries);
  });

  it('keeps the file mode', { skip: process.platform === 'win32' && 'no POSIX modes' }, async () => {
    const file = scratchFile('mode.jsonl');
    copyFileSync(fixture('trl-standard-explicit.jsonl'), file);
    const { chmodSync } = await import('node:fs');
    chmodSync(file, 0o640);
    const input = await loadDataset(file);
    await applyInPlace(file, annotations(input, () => ({ label: 'b' })), { by: 'test' });
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });

  it('moves annotations to the keys the swapped pairs and their identical twins now have', async () => {
    const pair = { chosen: '\n\nHuman: Hi\n\nAssistant: Hello.', rejected: '\n\nHuman: Hi\n\nAssistant: Go away.' };
    const file = scratchFile('twins.jsonl');
    writeFileSync(file, [pair, pair, pair, { ...pair, chosen: pair.chosen + '!' }].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const input = await loadDataset(file);
    const log = annotations(input, (i) => [{ flagged: true }, { label: 'b' as const, note: 'the polite one is worse' }, { reviewed: true }, undefined][i]);
    const sidecar = scratchFile('twins.plens-annotations.jsonl');
    const report = await applyInPlace(file, log, { by: 'applier' });
    assert.deepEqual(report, { format: 'hh-rlhf', relabelled: 1, unapplied: {}, rekeyed: 2 });
    // k#1 → the swapped key (label, note), k#2 → k#1 (clears label and note, sets reviewed), k#2 cleared.
    // Labels move under their annotator's name, so they stay theirs; the rest under the applier's.
    assert.equal(log.pendingChanges.filter((event) => event.by === 'applier').length, 4);
    assert.deepEqual(
      log.pendingChanges.filter((event) => event.field === 'label').map(({ by, from, to }) => [by, from, to]),
      [
        ['test', null, 'b'], // set up above
        ['test', null, 'a'],
        ['test', 'b', null],
      ],
    );
    await log.save(sidecar);

    const reread = await loadDataset(file);
    const saved = await AnnotationLog.load(sidecar);
    const now = pairKeys(reread.pairs).map((key) => saved.get(key));
    // The swapped pair now says B-as-was is chosen: its label reads "a", the file's own.
    assert.deepEqual(now, [{ flagged: true }, { label: 'a', note: 'the polite one is worse' }, { reviewed: true }, undefined]);
    // Old keys: k stays the first twin's; k#1 is now the third pair's (the swapped one left the
    // twins); k#2 belongs to no pair any more, so nothing is left under it to be inherited.
    assert.deepEqual(pairKeys(input.pairs).map((key) => saved.get(key)), [{ flagged: true }, { reviewed: true }, undefined, undefined]);
  });
});

describe('serializeLike', () => {
  it('follows compact, Python-spaced, ASCII-escaped and indented styles', () => {
    const value = { a: ['é', 1], b: { c: null } };
    assert.equal(serializeLike('{"x":1,"y":2}', value), '{"a":["é",1],"b":{"c":null}}');
    assert.equal(serializeLike('{"x": 1, "y": "\\u00e9"}', value), '{"a": ["\\u00e9", 1], "b": {"c": null}}');
    assert.equal(serializeLike('{\r\n    "x": 1\r\n  }', { a: 1, b: 2 }), '{\r\n    "a": 1,\r\n    "b": 2\r\n  }');
    // A separator inside a string says nothing about the style.
    assert.equal(serializeLike('{"x, y: z":1}', { a: 1, b: 2 }), '{"a":1,"b":2}');
  });
});

describe('real data', { skip: existsSync(shared) ? false : `../shared/data is absent (${shared})` }, () => {
  it('HH-RLHF helpful-base test split: every relabel in place reads back, every other byte kept', async () => {
    const source = path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl');
    const file = scratchFile('hh-real.jsonl');
    copyFileSync(source, file);
    const input = await loadDataset(file);
    const report = await applyInPlace(file, annotations(input, (i) => (i % 7 === 0 ? { label: 'b' } : undefined)), { by: 'test' });
    const relabelled = Math.ceil(input.pairs.length / 7);
    assert.equal(report.relabelled, relabelled);
    const reread = await loadDataset(file);
    input.pairs.forEach((pair, i) => assertSays(reread.pairs[i], pair, i % 7 === 0 ? 'b' : 'a', `line ${pair.line}`));
    const [before, now] = [readFileSync(source, 'utf8').split('\n'), readFileSync(file, 'utf8').split('\n')];
    assert.equal(now.length, before.length);
    // Swapping identical responses leaves the same text: those lines do not change.
    const identical = input.pairs.filter((p, i) => i % 7 === 0 && JSON.stringify(p.a) === JSON.stringify(p.b)).length;
    assert.equal(now.filter((line, i) => line !== before[i]).length, relabelled - identical);

    const standard = await exportDataset(source, scratchFile('hh-standard.jsonl'), { to: 'trl-standard', annotations: AnnotationLog.empty() });
    assert.equal(standard.written + (Object.values(standard.dropped)[0] ?? 0), input.pairs.length);
  });
});
