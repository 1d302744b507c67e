// The rough edges a new user hit with plens (issue 11), each run as a user runs it: the built CLI in a child process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, symlinkSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { pairKeys } from '../../src/core/annotations';
import { loadDataset } from '../../src/core/dataset';
import { cliScratch } from '../support/plens';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'formats', name);

const scratch = cliScratch('plens-edges-');
const { plens } = scratch;

describe('--out that cannot be written', () => {
  it('score fails at once with the path named, before the model is loaded', async () => {
    const folder = path.join(scratch.dir, 'a-folder');
    await mkdir(folder);
    for (const [out, reason] of [
      [path.join(scratch.dir, 'no-such-dir', 's.jsonl'), /--out .*no-such-dir.*s\.jsonl: the folder .*no-such-dir does not exist/],
      [folder, /--out .*a-folder is a folder; give a file path/],
    ] as const) {
      const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', out);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, reason);
      // Nothing about the model: the check runs before it loads.
      assert.doesNotMatch(run.stderr, /baseline|running on|Unhandled/);
    }
  });

  it('a run that fails leaves an earlier --out file as it was, and no temporary file', async () => {
    const out = path.join(scratch.dir, 'earlier-scores.jsonl');
    await writeFile(out, 'earlier scores\n');
    const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', out, '--model', path.join(scratch.dir, 'a-folder'));
    assert.equal(run.code, 1);
    assert.equal(await readFile(out, 'utf8'), 'earlier scores\n');
    assert.deepEqual((await readdir(scratch.dir)).filter((name) => name.endsWith('.tmp')), []);
  });

  it('export fails the same way, and a folder as --out gets an example of an export name', async () => {
    const run = await plens('export', fixture('hh-rlhf.jsonl'), '--out', path.join(scratch.dir, 'missing', 'x.jsonl'));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^plens: --out .*missing.*x\.jsonl: the folder .*missing does not exist/m);
    const folder = await plens('export', fixture('hh-rlhf.jsonl'), '--out', scratch.dir);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /is a folder; give a file path, e\.g\. .*hh-rlhf\.cleaned\.jsonl/);
    assert.doesNotMatch(folder.stderr, /no annotations/, 'a refused command says only why');
  });

  // A folder where no file can be made though its permission bits allow it (for root, who passes
  // every permission check, or on a special file system): only trying tells.
  it('a folder no file can be created in is refused at once, by score, export and merge-scores', { skip: !existsSync('/proc/self') && 'no /proc here' }, async () => {
    for (const args of [
      ['score', fixture('hh-rlhf.jsonl')],
      ['export', fixture('hh-rlhf.jsonl')],
      ['merge-scores', fixture('hh-rlhf.jsonl'), path.join(scratch.dir, 'none.jsonl')],
    ]) {
      const run = await plens(...args, '--out', '/proc/plens-out.jsonl');
      assert.equal(run.code, 1, args[0]);
      assert.match(run.stderr, /^plens: --out \/proc\/plens-out\.jsonl: cannot create a file in the folder \/proc \(\w+\)$/m, args[0]);
      assert.doesNotMatch(run.stderr, /baseline|scored/, `${args[0]}: refused before any work`);
    }
  });
});

describe('--out that is not a plain file', () => {
  // `--out /dev/null` renamed a plain file over the device: as root, /dev/null itself became a file
  // that every later `> /dev/null` on the machine wrote into. A null device of our own stands in.
  const asRoot = process.getuid?.() === 0;
  it('a device (/dev/null) is written to, never replaced, by score and export', { skip: !asRoot && 'making a device node needs root' }, async () => {
    const device = path.join(scratch.dir, 'null');
    execFileSync('mknod', ['-m', '666', device, 'c', '1', '3']);
    for (const args of [['score', fixture('hh-rlhf.jsonl')], ['export', fixture('hh-rlhf.jsonl')], ['export', fixture('hh-rlhf.jsonl'), '--to', 'trl-standard']]) {
      const run = await plens(...args, '--out', device);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(lstatSync(device).isCharacterDevice(), `${args.join(' ')}: still a device`);
    }
    assert.deepEqual(readdirSync(scratch.dir).filter((name) => name.startsWith('.null')), [], 'no temporary left beside it');
  });

  it('a symbolic link stays a link, and the file it points to gets the output', async () => {
    const real = scratch.file('real-scores.jsonl');
    const link = scratch.file('linked-scores.jsonl');
    await writeFile(real, 'old\n');
    symlinkSync(real, link);
    const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', link);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is kept');
    assert.match(await readFile(real, 'utf8'), /"reward_a"/);
  });
});

describe('flags and paths checked before any work', () => {
  it('an unknown --device, --variant without --model, a bad number: refused before the baseline banner', async () => {
    for (const [args, reason] of [
      [['--device', 'bogus'], /--device should be auto, cpu, cuda, dml, coreml, webgpu, got "bogus"/],
      [['--variant', 'int4'], /--variant picks a precision or file of the model --model names; without --model the bundled baseline is used/],
      [['--max-length', 'abc'], /--max-length/],
    ] as const) {
      const run = await plens('score', fixture('hh-rlhf.jsonl'), ...args);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, reason);
      assert.doesNotMatch(run.stderr, /bundled baseline:/, `${args[0]}: no banner before the refusal`);
    }
  });

  it('a folder given as the dataset is named as a folder', async () => {
    const run = await plens('inspect', scratch.dir);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is a folder; give a dataset file in it/);
  });

  it("review of the bundled baseline's scores kept from stdout says they are the baseline's, as review without --scores does", async () => {
    // `plens score data.jsonl > scores.jsonl`: the summary, with "baseline": true, is the file's last line.
    const scores = scratch.file('baseline-scores.jsonl');
    const scored = await plens('score', fixture('hh-rlhf.jsonl'));
    assert.equal(scored.code, 0);
    await writeFile(scores, scored.stdout);
    const fromFile = JSON.parse((await plens('review', fixture('hh-rlhf.jsonl'), '--scores', scores)).stdout);
    const direct = JSON.parse((await plens('review', fixture('hh-rlhf.jsonl'))).stdout);
    assert.match(direct.baseline.note, /bundled baseline, not a reward model/);
    assert.deepEqual(fromFile.baseline, direct.baseline);
  });

  it('export --drop unreviewed-disagreements without --scores names the flag to add, and writes nothing', async () => {
    const out = scratch.file('dropped.jsonl');
    const run = await plens('export', fixture('hh-rlhf.jsonl'), '--out', out, '--drop', 'unreviewed-disagreements');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--drop unreviewed-disagreements needs the reward model's scores: add --scores <file>/);
    assert.equal(existsSync(out), false);
  });

  it('review --annotations naming a file that is not there is refused, as export refuses it', async () => {
    const run = await plens('review', fixture('hh-rlhf.jsonl'), '--annotations', path.join(scratch.dir, 'typo.jsonl'));
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--annotations: .*typo\.jsonl does not exist/);
  });
});

describe('a file no record of which can be read', () => {
  it('--format that fits no line: score, review and inspect exit non-zero and say what to do', async () => {
    for (const command of ['score', 'review', 'inspect']) {
      const run = await plens(command, fixture('hh-rlhf.jsonl'), '--format', 'llmbar');
      assert.equal(run.code, 1, `${command}: ${run.stderr}`);
      assert.equal(run.stdout, '', command);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /hh-rlhf\.jsonl: none of its 6 records fits --format llmbar \(line 1: does not fit llmbar: .*it has the shape of hh-rlhf\); leave out --format/);
    }
  });

  it('valid JSON that holds no records is described, not called invalid JSON', async () => {
    for (const [text, reason] of [
      ['[1,2]', /JSON but holds no records: a number at line 1/],
      ['null\n', /JSON but holds no records: null at line 1/],
      ['[' + '['.repeat(5000) + ']'.repeat(5000) + ']', /JSON but holds no records: an array nested 5000 levels deep at line 1/],
      ['[[{"prompt":"p","chosen":"c","rejected":"r"}]]', /JSON but holds no records: an array of objects at line 1/],
    ] as const) {
      const file = scratch.file('doc.json');
      await writeFile(file, text);
      const run = await plens('inspect', file);
      assert.equal(run.code, 1, text.slice(0, 20));
      assert.match(run.stderr, reason);
      assert.doesNotMatch(run.stderr, /not valid JSON/);
    }
  });
});

describe('a JSON array cut short', () => {
  it('inspect and score read its complete records and report the cut with its line', async () => {
    const [record] = JSON.parse(await readFile(fixture('llmbar.json'), 'utf8'));
    const elements = Array.from({ length: 24 }, (_, i) => '  ' + JSON.stringify({ ...record, input: `question ${i}` }));
    const whole = `[\n${elements.join(',\n')}\n]\n`;
    // Cut in the middle of the 24th element, as an interrupted download leaves it.
    const file = path.join(scratch.dir, 'cut.json');
    await writeFile(file, whole.slice(0, whole.indexOf('question 23') + 4));
    const run = await plens('inspect', file);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.pairs, 23);
    assert.equal(report.malformed.length, 1);
    assert.equal(report.malformed[0].line, 25);
    assert.match(report.malformed[0].error, /ends inside this record.*cut short/);
    const scored = await plens('score', file);
    assert.equal(scored.code, 0, scored.stderr);
    assert.match(scored.stderr, /cut\.json:25: skipped: the file ends inside this record/);
    assert.equal(JSON.parse(scored.stdout.trim().split('\n').at(-1)!).scored, 23);
  });
});

describe('pairs whose two responses are identical', () => {
  // hh-rlhf.jsonl: pairs on lines 1, 2, 5 and 7; line 5's chosen and rejected are the same text.
  // A model that sees position can still give them different rewards: here B "wins" every pair.
  const scoreRows = [1, 2, 5, 7].map((line) => ({ line, reward_a: 0, reward_b: 1 }));

  it('score gives them the verdict "identical", outside agreement', async () => {
    const out = path.join(scratch.dir, 'identical-scores.jsonl');
    const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', out);
    assert.equal(run.code, 0, run.stderr);
    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const five = rows.find((r) => r.line === 5);
    assert.equal(five.prefers, 'identical');
    assert.equal(five.agrees, null);
    const summary = JSON.parse(run.stdout.trim());
    assert.equal(summary.identical, 1);
    assert.equal(summary.agreement, rows.filter((r) => r.agrees === true).length / 3);
  });

  it('review counts and lists them, and never as a disagreement, whatever their rewards', async () => {
    const scores = path.join(scratch.dir, 'position-biased.jsonl');
    await writeFile(scores, scoreRows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const run = await plens('review', fixture('hh-rlhf.jsonl'), '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.scored, 4);
    assert.equal(report.identical, 1);
    assert.deepEqual(report.identical_lines, [5]);
    assert.equal(report.disagreements, 3);
    assert.equal(report.agreement, 0);
    assert.deepEqual(report.top_disagreements.map((d: { line: number }) => d.line).sort(), [1, 2, 7]);
  });

  it('export --drop unreviewed-disagreements keeps them', async () => {
    const scores = path.join(scratch.dir, 'position-biased-export.jsonl');
    await writeFile(scores, scoreRows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const out = path.join(scratch.dir, 'kept.jsonl');
    const run = await plens('export', fixture('hh-rlhf.jsonl'), '--out', out, '--annotations', await emptySidecar(), '--drop', 'unreviewed-disagreements', '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).dropped, { malformed: 2, 'unreviewed-disagreements': 3 });
    assert.equal((await readFile(out, 'utf8')).trim().split('\n').length, 1);
  });
});

async function emptySidecar(): Promise<string> {
  const file = scratch.file('empty.plens-annotations.jsonl');
  await writeFile(file, '{"plens":"annotations","version":1}\n');
  return file;
}

describe('review top_disagreements', () => {
  it('gives the whole conversation as the prompt, not only the last human turn', async () => {
    const scores = path.join(scratch.dir, 'multi-turn.jsonl');
    // Line 2 is a three-turn conversation; the model prefers the rejected response there.
    await writeFile(scores, JSON.stringify({ line: 2, reward_a: 0, reward_b: 2 }) + '\n');
    const run = await plens('review', fixture('hh-rlhf.jsonl'), '--scores', scores);
    assert.equal(run.code, 0, run.stderr);
    const [top] = JSON.parse(run.stdout).top_disagreements;
    assert.equal(top.line, 2);
    assert.deepEqual(top.prompt, [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: 'Tell me a joke.' },
    ]);
  });
});

describe('--scores that belong to another dataset', () => {
  let scores: string;
  before(async () => {
    scores = path.join(scratch.dir, 'hh-scores.jsonl');
    const run = await plens('score', fixture('hh-rlhf.jsonl'), '--out', scores);
    assert.equal(run.code, 0, run.stderr);
  });

  it('each score line carries the content key of the pair it scored', async () => {
    const rows = (await readFile(scores, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const dataset = await loadDataset(fixture('hh-rlhf.jsonl'));
    assert.deepEqual(
      rows.map((r) => r.key),
      pairKeys(dataset.pairs),
    );
  });

  it('review refuses the scores of another file, of an edited copy, and the dataset itself', async () => {
    // Another file of the same format whose pairs sit on the same lines.
    const other = path.join(scratch.dir, 'other.jsonl');
    const edited = path.join(scratch.dir, 'edited.jsonl');
    const original = await readFile(fixture('hh-rlhf.jsonl'), 'utf8');
    await writeFile(other, original.replaceAll('pinata', 'kite').replaceAll('joke', 'story').replaceAll('Same?', 'Why?').replaceAll('Human: ', 'Human: Well, '));
    await writeFile(edited, original.replace('papier-mache', 'paper'));
    for (const [dataset, scoresFile, reason] of [
      [other, scores, /hh-scores\.jsonl:1 scored another pair than the one on line 1 of .*other\.jsonl \(and 3 more of its score lines\): these scores are of another file/],
      [edited, scores, /hh-scores\.jsonl:1 scored another pair than the one on line 1 of .*edited\.jsonl: these scores are of another file or of an older version/],
      [fixture('hh-rlhf.jsonl'), fixture('hh-rlhf.jsonl'), /hh-rlhf\.jsonl:1: not a plens score line .*has chosen, rejected.*not the dataset/],
      [fixture('pandalm.json'), scores, /hh-scores\.jsonl:\d scored another pair than the one on line \d of .*pandalm\.json/],
    ] as const) {
      const run = await plens('review', dataset, '--scores', scoresFile);
      assert.equal(run.code, 1, `${dataset}: ${run.stdout}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, reason);
    }
  });

  it('export --scores refuses them too, writing nothing', async () => {
    const other = path.join(scratch.dir, 'other-export.jsonl');
    await writeFile(other, (await readFile(fixture('hh-rlhf.jsonl'), 'utf8')).replaceAll('pinata', 'kite'));
    const out = path.join(scratch.dir, 'not-written.jsonl');
    const run = await plens('export', other, '--out', out, '--annotations', await emptySidecar(), '--drop', 'unreviewed-disagreements', '--scores', scores);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /hh-scores\.jsonl:1 scored another pair than the one on line 1 of .*other-export\.jsonl/);
    assert.equal(existsSync(out), false);
  });

  it('a score file from before the keys still loads, matched by line, with a warning', async () => {
    const old = path.join(scratch.dir, 'old-scores.jsonl');
    const rows = (await readFile(scores, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    await writeFile(old, rows.map(({ key: _key, ...row }) => JSON.stringify(row)).join('\n') + '\n');
    const withKeys = JSON.parse((await plens('review', fixture('hh-rlhf.jsonl'), '--scores', scores)).stdout);
    const run = await plens('review', fixture('hh-rlhf.jsonl'), '--scores', old);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /old-scores\.jsonl was written by an older plens, without the pairs' content keys: .*matched by line only/);
    const report = JSON.parse(run.stdout);
    assert.equal(report.scored, 4);
    assert.equal(report.agreement, withKeys.agreement);
    // Without keys, lines that hold no pair of the dataset still give another file away.
    const elsewhere = await plens('review', fixture('pandalm.json'), '--scores', old);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /old-scores\.jsonl:\d scores line \d, which is no pair of .*pandalm\.json/);
  });
});

describe('export of a JSON array', () => {
  const shared = path.resolve(repoRoot, '..', 'shared', 'data');
  const sharedArrays = ['pandalm-testset-v1/testset-v1.json', 'llmbar/LLMBar/Natural/dataset.json', 'llama-factory-dpo-demo/dpo_en_demo.json']
    .map((name) => path.join(shared, name))
    .filter((file) => existsSync(file));

  it('--to same with no annotations is the file itself, byte for byte: BOM, one-line array, no final newline', async () => {
    const [a, b] = JSON.parse(await readFile(fixture('llmbar.json'), 'utf8'));
    const oneLine = path.join(scratch.dir, 'one-line.json');
    await writeFile(oneLine, '\ufeff' + JSON.stringify([a, b, { ...a, input: 'again' }]));
    const pretty = path.join(scratch.dir, 'pretty-crlf.json');
    await writeFile(pretty, '\ufeff[\r\n    ' + [a, b].map((r) => JSON.stringify(r, null, 4).replaceAll('\n', '\r\n    ')).join(',\r\n    ') + '\r\n]\r\n');
    // JSONL keeps its BOM and its missing final newline too.
    const lines = path.join(scratch.dir, 'bom-no-newline.jsonl');
    await writeFile(lines, '\ufeff' + (await readFile(fixture('trl-standard-explicit.jsonl'), 'utf8')).trimEnd());
    const hh = path.join(shared, 'hh-rlhf-helpful-base-test/test.jsonl');
    for (const file of [oneLine, pretty, fixture('pandalm.json'), lines, ...sharedArrays, ...(existsSync(hh) ? [hh] : [])]) {
      const out = scratch.file(`copy${path.extname(file)}`);
      const run = await plens('export', file, '--out', out, '--annotations', await emptySidecar());
      assert.equal(run.code, 0, run.stderr);
      assert.ok((await readFile(out)).equals(await readFile(file)), `${file}: the copy differs`);
    }
  });

  it('the output follows the --out extension: an array to .jsonl writes JSONL, JSONL to .json writes an array', async () => {
    for (const file of [fixture('pandalm.json'), ...sharedArrays]) {
      const out = scratch.file('as-lines.jsonl');
      const run = await plens('export', file, '--out', out, '--annotations', await emptySidecar());
      assert.equal(run.code, 0, run.stderr);
      const lines = (await readFile(out, 'utf8')).split('\n');
      assert.equal(lines.pop(), '');
      const source = await loadDataset(file);
      assert.equal(lines.length, source.pairs.length);
      // Each line is the record as it was, only put on one line.
      assert.deepEqual(
        lines.map((l) => JSON.parse(l)),
        JSON.parse((await readFile(file, 'utf8')).replace(/^\ufeff/, '')),
      );
      const reread = await loadDataset(out);
      assert.deepEqual(reread.pairs.map(({ line: _l, ...p }) => p), source.pairs.map(({ line: _l, ...p }) => p));
    }
    const out = path.join(scratch.dir, 'as-array.json');
    const run = await plens('export', fixture('trl-standard-explicit.jsonl'), '--out', out, '--annotations', await emptySidecar());
    assert.equal(run.code, 0, run.stderr);
    const records = JSON.parse(await readFile(out, 'utf8'));
    assert.ok(Array.isArray(records));
    assert.equal(records.length, (await loadDataset(fixture('trl-standard-explicit.jsonl'))).pairs.length);
  });
});

describe('the device, on a machine without CUDA', () => {
  it('the default device falls back to the CPU with one short note, not CUDA\'s error text', async (t) => {
    const run = await plens('score', fixture('pandalm.json'));
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    if (summary.device !== 'cpu') return t.skip(`scoring ran on ${summary.device}: nothing to fall back from`);
    if (!(process.platform === 'linux' && process.arch === 'x64')) return t.skip('auto only tries CUDA on linux x64');
    const forced = await plens('score', fixture('pandalm.json'), '--device', 'cuda');
    // Only where CUDA is simply not installed; a CUDA that is installed and fails still says why.
    if (!/Failed to load shared library|cannot open shared object/i.test(forced.stderr)) return t.skip('CUDA is installed here and fails otherwise');
    assert.doesNotMatch(run.stderr, /Failed to load|OrtSessionOptions|cuda unavailable/);
    const note = run.stderr.split('\n').filter((line) => /running on cpu/.test(line));
    assert.equal(note.length, 1, run.stderr);
    assert.ok(note[0].length < 120, note[0]);
    // Asked for by name, CUDA's whole story is told.
    assert.match(forced.stderr, /running on cpu: cuda unavailable: .*Failed to load shared library/);
  });

  it('a broken model.onnx shows its own error first', async () => {
    const baseline = path.join(repoRoot, 'dist', 'models', 'baseline');
    const broken = path.join(scratch.dir, 'broken-model');
    await cp(baseline, broken, { recursive: true });
    await writeFile(path.join(broken, 'model.onnx'), (await readFile(path.join(baseline, 'model.onnx'))).subarray(0, 1000));
    const run = await plens('score', fixture('pandalm.json'), '--model', broken);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^plens: Cannot load .*broken-model\/model\.onnx: Load model from .* failed:Protobuf parsing failed/);
  });
});
