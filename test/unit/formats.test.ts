import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { countLabels, DatasetError, loadDataset, parseDataset } from '../../src/core/dataset';

const fixtures = path.join(__dirname, '..', 'fixtures', 'formats');
const fixture = (name: string) => path.join(fixtures, name);
const shared = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
const sharedSkip = existsSync(shared) ? false : `../shared/data is absent (${shared}); real-dataset tests need it`;

describe('HH-RLHF', () => {
  it('reads transcripts, splits the prompt at the last shared assistant turn, reports bad lines', async () => {
    const dataset = await loadDataset(fixture('hh-rlhf.jsonl'));
    assert.equal(dataset.format.name, 'hh-rlhf');
    assert.equal(dataset.pairs.length, 4);
    assert.deepEqual(
      dataset.malformed.map((m) => m.line),
      [4, 6],
    );
    assert.match(dataset.malformed[0].error, /invalid JSON/);
    assert.match(dataset.malformed[1].error, /missing field "rejected"/);

    const [pinata, joke, same, colour] = dataset.pairs;
    assert.deepEqual(pinata.prompt, [{ role: 'user', content: 'How do I make a pinata?' }]);
    assert.deepEqual(pinata.a, [{ role: 'assistant', content: 'Get a balloon and cover it in papier-mache.' }]);
    assert.deepEqual(pinata.b, [{ role: 'assistant', content: 'A pinata is a party game.' }]);
    assert.equal(pinata.label, 'a');
    assert.equal(pinata.line, 1);

    assert.deepEqual(
      joke.prompt.map((m) => m.role),
      ['user', 'assistant', 'user'],
    );
    assert.equal(joke.prompt[2].content, 'Tell me a joke.');
    assert.equal(joke.b[0].content, 'No.');

    // Identical transcripts still give two (equal) responses, not an empty prompt.
    assert.deepEqual(same.a, same.b);
    assert.equal(same.prompt[0].content, 'Same?');
    assert.equal(same.line, 5);

    // A shared first word stays in both responses.
    assert.equal(colour.a[0].content, 'Blue is nice.');
    assert.equal(colour.b[0].content, 'Blueberries are not a colour.');
    assert.equal(colour.line, 7);
  });

  it('reads the shared helpful-base test split', { skip: sharedSkip }, async () => {
    const dataset = await loadDataset(path.join(shared, 'hh-rlhf-helpful-base-test', 'test.jsonl'));
    assert.equal(dataset.format.name, 'hh-rlhf');
    assert.equal(dataset.pairs.length, 2354);
    assert.deepEqual(dataset.malformed, []);
    assert.deepEqual(countLabels(dataset.pairs), { a: 2354, b: 0, tie: 0, none: 0 });
    assert.equal(dataset.pairs[0].prompt[0].content, 'Do you know why turkeys became the official food of thanksgiving?');
    // Every prompt ends on a user turn and every response starts with the assistant.
    for (const pair of dataset.pairs) {
      assert.equal(pair.prompt.at(-1)?.role, 'user', `line ${pair.line}`);
      assert.equal(pair.a[0].role, 'assistant', `line ${pair.line}`);
      assert.equal(pair.b[0].role, 'assistant', `line ${pair.line}`);
    }
    assert.equal(dataset.pairs.filter((p) => JSON.stringify(p.a) === JSON.stringify(p.b)).length, 2);
  });
});

describe('TRL formats', () => {
  it('standard with an explicit prompt', async () => {
    const dataset = await loadDataset(fixture('trl-standard-explicit.jsonl'));
    assert.equal(dataset.format.name, 'trl-standard');
    assert.deepEqual(dataset.pairs[0], {
      line: 1,
      prompt: [{ role: 'user', content: 'The sky is' }],
      a: [{ role: 'assistant', content: ' blue.' }],
      b: [{ role: 'assistant', content: ' green.' }],
      label: 'a',
    });
  });

  it('standard with an implicit prompt takes the common prefix', async () => {
    const dataset = await loadDataset(fixture('trl-standard-implicit.jsonl'));
    assert.equal(dataset.format.name, 'trl-standard');
    assert.equal(dataset.pairs[0].prompt[0].content, 'The sky is ');
    assert.equal(dataset.pairs[0].a[0].content, 'blue.');
    assert.equal(dataset.pairs[0].b[0].content, 'green.');
  });

  it('conversational with an explicit prompt keeps the system turn', async () => {
    const dataset = await loadDataset(fixture('trl-conversational-explicit.jsonl'));
    assert.equal(dataset.format.name, 'trl-conversational');
    const [pair] = dataset.pairs;
    assert.deepEqual(
      pair.prompt.map((m) => m.role),
      ['system', 'user'],
    );
    assert.equal(pair.a[0].content, 'It is blue.');
  });

  it('conversational with an implicit prompt (Tulu 2.5, UltraFeedback) splits at the shared turns', async () => {
    for (const name of ['trl-conversational-implicit.jsonl', 'ultrafeedback-binarized.jsonl']) {
      const dataset = await loadDataset(fixture(name));
      assert.equal(dataset.format.name, 'trl-conversational', name);
      const [pair] = dataset.pairs;
      assert.equal(pair.prompt.length, 1, name);
      assert.equal(pair.prompt[0].role, 'user', name);
      assert.equal(pair.a.length, 1, name);
      assert.equal(pair.a[0].role, 'assistant', name);
      assert.notEqual(pair.a[0].content, pair.b[0].content, name);
    }
  });
});

describe('other pair formats', () => {
  it('LLMBar labels 1 and 2 become a and b', async () => {
    const dataset = await loadDataset(fixture('llmbar.json'));
    assert.equal(dataset.format.name, 'llmbar');
    assert.deepEqual(
      dataset.pairs.map((p) => [p.line, p.label]),
      [
        [2, 'a'],
        [8, 'b'],
      ],
    );
  });

  it('PandaLM takes the annotators majority; no majority or a 0 majority is a tie', async () => {
    const dataset = await loadDataset(fixture('pandalm.json'));
    assert.equal(dataset.format.name, 'pandalm');
    assert.deepEqual(
      dataset.pairs.map((p) => p.label),
      ['a', 'tie', 'tie'],
    );
    assert.equal(dataset.pairs[0].prompt[0].content, 'Fix the grammar.\n\nHe go home.');
    assert.equal(dataset.pairs[1].prompt[0].content, 'Say hi.');
  });

  it('ShareGPT DPO keeps the system turn and maps roles', async () => {
    const dataset = await loadDataset(fixture('sharegpt-dpo.json'));
    assert.equal(dataset.format.name, 'sharegpt-dpo');
    assert.deepEqual(dataset.pairs[0].prompt, [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Hi!' },
    ]);
    assert.deepEqual(dataset.pairs[0].b, [{ role: 'assistant', content: 'What.' }]);
  });

  it('LLaMA-Factory v1 message lists with typed content parts', async () => {
    const dataset = await loadDataset(fixture('llama-factory-messages.jsonl'));
    assert.equal(dataset.format.name, 'llama-factory-messages');
    assert.deepEqual(
      dataset.pairs[0].prompt.map((m) => m.content),
      ['Be kind.', "Translate 'chat'."],
    );
    assert.equal(dataset.pairs[0].a[0].content, 'Cat.');
  });

  it('real LLaMA-Factory, PandaLM and LLMBar files', { skip: sharedSkip }, async () => {
    const cases: [string, string, number, Partial<Record<string, number>>][] = [
      ['llama-factory-dpo-demo/dpo_en_demo.json', 'sharegpt-dpo', 300, { a: 300 }],
      ['llama-factory-dpo-demo/v1_dpo_demo.jsonl', 'llama-factory-messages', 10, { a: 10 }],
      ['pandalm-testset-v1/testset-v1.json', 'pandalm', 999, { a: 422, b: 472, tie: 105 }],
      ['llmbar/LLMBar/Natural/dataset.json', 'llmbar', 100, {}],
      ['llmbar/Processed/MT-Bench/dataset.json', 'llmbar', 200, { a: 101, b: 99 }],
    ];
    for (const [file, format, pairs, labels] of cases) {
      const dataset = await loadDataset(path.join(shared, file));
      assert.equal(dataset.format.name, format, file);
      assert.equal(dataset.pairs.length, pairs, file);
      assert.deepEqual(dataset.malformed, [], file);
      const counts = countLabels(dataset.pairs);
      for (const [label, count] of Object.entries(labels)) assert.equal(counts[label as 'a'], count, `${file} ${label}`);
    }
  });
});

describe('files that are not pairs', () => {
  it('explains unpaired KTO records instead of reading them as pairs', async () => {
    await assert.rejects(loadDataset(fixture('kto-unpaired.jsonl')), (error: Error) => {
      assert.ok(error instanceof DatasetError);
      assert.match(error.message, /kto-unpaired\.jsonl: .*unpaired \(KTO-style\)/);
      return true;
    });
  });

  it('names the file and the fields when no format fits', async () => {
    await assert.rejects(loadDataset(fixture('unknown.jsonl')), /unknown\.jsonl: no known preference format fits \(first record's fields: question, answer\)/);
  });

  it('names the file when it cannot be read', async () => {
    await assert.rejects(loadDataset(fixture('does-not-exist.jsonl')), /does-not-exist\.jsonl: cannot read the file/);
  });

  it('reports a truncated JSON array', () => {
    assert.throws(() => parseDataset('cut.json', '[{"input":"a","output_1":"b","output_2":"c","label":1},\n{"inp'), /cut\.json: the JSON array is not closed/);
  });

  it('tolerates a BOM, CRLF and no final newline; keeps going after a bad line', () => {
    const text = '\ufeff{"prompt":"p","chosen":"c","rejected":"r"}\r\n[1,2]\r\n\r\n{"prompt":"q","chosen":"c2","rejected":"r2"}';
    const dataset = parseDataset('mixed.jsonl', text);
    assert.deepEqual(
      dataset.pairs.map((p) => [p.line, p.prompt[0].content]),
      [
        [1, 'p'],
        [4, 'q'],
      ],
    );
    assert.deepEqual(dataset.malformed, [{ line: 2, error: 'a record should be a JSON object' }]);
  });

  it('an explicit format overrides detection, and a record that does not fit it is reported', () => {
    const text = '{"input":"i","output_1":"x","output_2":"y","label":3}\n{"input":"i","output_1":"x","output_2":"y","label":2}\n';
    const dataset = parseDataset('f.jsonl', text, { format: 'llmbar' });
    assert.equal(dataset.pairs.length, 1);
    assert.match(dataset.malformed[0].error, /does not fit llmbar: field "label" should be 1 or 2, got 3/);
    assert.throws(() => parseDataset('f.jsonl', text, { format: 'nope' }), /unknown format "nope"/);
  });
});
