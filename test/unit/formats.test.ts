import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { countLabels, DatasetError, loadDataset, parseDataset } from '../../src/core/dataset';

const fixtures = path.join(__dirname, '..', 'fixtures', 'formats');
const fixture = (name: string) => path.join(fixtures, name);
const shared = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
const sharedSkip = existsSync(shared) ? false : `../shared/data is absent (${shared}); real-dataset tests need it`;
const scratch = mkdtempSync(path.join(tmpdir(), 'plens-formats-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

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
    for (const [name, format] of [
      ['trl-conversational-implicit.jsonl', 'trl-conversational'],
      ['ultrafeedback-binarized.jsonl', 'ultrafeedback-binarized'],
    ]) {
      const dataset = await loadDataset(fixture(name));
      assert.equal(dataset.format.name, format, name);
      const [pair] = dataset.pairs;
      assert.equal(pair.prompt.length, 1, name);
      assert.equal(pair.prompt[0].role, 'user', name);
      assert.equal(pair.a.length, 1, name);
      assert.equal(pair.a[0].role, 'assistant', name);
      assert.notEqual(pair.a[0].content, pair.b[0].content, name);
    }
  });

  it('UltraFeedback binarized keeps its ratings as metadata', async () => {
    const dataset = await loadDataset(fixture('ultrafeedback-binarized.jsonl'));
    assert.deepEqual(dataset.pairs[0].meta, { scoreA: 8, scoreB: 5, promptId: 'ab12' });
    assert.equal(dataset.pairs[0].label, 'a');
  });

  it('Tulu 2.5 preference data: multi-turn prompts keep every shared turn', async () => {
    const dataset = await loadDataset(fixture('tulu-2.5.jsonl'));
    assert.equal(dataset.format.name, 'trl-conversational');
    assert.equal(dataset.pairs.length, 2);
    assert.deepEqual(dataset.malformed, []);
    const [plants, gracias] = dataset.pairs;
    assert.deepEqual(
      plants.prompt.map((m) => [m.role, m.content]),
      [
        ['user', 'What are some good houseplants?'],
        ['assistant', 'Pothos and snake plants are easy.'],
        ['user', 'Which needs less light?'],
      ],
    );
    assert.deepEqual(plants.a, [{ role: 'assistant', content: 'The snake plant tolerates low light.' }]);
    assert.deepEqual(plants.b, [{ role: 'assistant', content: 'Both need full sun.' }]);
    assert.equal(gracias.prompt.length, 1);
    assert.deepEqual(countLabels(dataset.pairs), { a: 2, b: 0, tie: 0, none: 0 });
  });
});

describe('arena battles', () => {
  it('Chatbot Arena / MT-bench: winner incl. ties, both-bad kept, judged turn only', async () => {
    const dataset = await loadDataset(fixture('chatbot-arena.jsonl'));
    assert.equal(dataset.format.name, 'chatbot-arena');
    assert.deepEqual(
      dataset.pairs.map((p) => [p.line, p.label]),
      [
        [1, 'a'],
        [2, 'tie'],
        [3, 'tie'],
        [4, 'b'],
      ],
    );
    assert.deepEqual(dataset.malformed.map((m) => m.line), [5]);
    assert.match(dataset.malformed[0].error, /"winner" should be model_a, model_b, tie or "tie \(bothbad\)", got "model_c"/);

    const [turn1, turn2, tie, multi] = dataset.pairs;
    // A turn-1 verdict on a two-turn MT-bench conversation compares the first answers only.
    assert.deepEqual(turn1.prompt, [{ role: 'user', content: 'Write a haiku about rain.' }]);
    assert.deepEqual(turn1.a, [{ role: 'assistant', content: 'Soft rain on the roof' }]);
    assert.deepEqual(turn1.b, [{ role: 'assistant', content: 'Rain rain go away' }]);
    assert.deepEqual(turn1.meta, { modelA: 'gpt-4', modelB: 'vicuna-13b-v1.2', judge: 'expert_0', questionId: 81, turn: 1 });
    // Turn 2: the histories differ from the first answer on, so both full continuations are compared.
    assert.deepEqual(
      turn2.a.map((m) => m.role),
      ['assistant', 'user', 'assistant'],
    );
    assert.equal(turn2.b[2].content, 'Snow is cold');
    assert.equal(turn2.meta?.bothBad, true);
    assert.equal(tie.meta?.bothBad, undefined);
    assert.equal(multi.prompt.length, 1);
    assert.equal(multi.a.at(-1)?.content, 'No.');
    assert.equal(multi.b.at(-1)?.content, 'Knock knock.');
  });

  it('Kaggle variant: JSON-encoded turn lists or plain strings, one-hot winner', async () => {
    const dataset = await loadDataset(fixture('arena-kaggle.jsonl'));
    assert.equal(dataset.format.name, 'arena-kaggle');
    assert.deepEqual(
      dataset.pairs.map((p) => [p.line, p.label]),
      [
        [1, 'a'],
        [2, 'tie'],
        [3, 'b'],
        [4, 'a'],
      ],
    );
    assert.deepEqual(dataset.malformed.map((m) => m.line), [5]);
    assert.match(dataset.malformed[0].error, /exactly one of winner_model_a, winner_model_b and winner_tie/);
    const [single, twoTurns, plain, withNull] = dataset.pairs;
    assert.deepEqual(single.prompt, [
      { role: 'user', content: 'Is it morally right to try to have a certain percentage of females on managerial positions?' },
    ]);
    assert.deepEqual(single.a, [{ role: 'assistant', content: 'It depends on the goal.' }]);
    assert.deepEqual(single.meta, { modelA: 'gpt-4-1106-preview', modelB: 'gpt-4-0613', id: 30192 });
    assert.deepEqual(
      twoTurns.a.map((m) => [m.role, m.content]),
      [
        ['assistant', 'A license permits; a certificate proves.'],
        ['user', 'Which one should I get first?'],
        ['assistant', 'The license.'],
      ],
    );
    assert.equal(plain.prompt[0].content, 'explain function calling. how would you call a function?');
    assert.equal(plain.b[0].content, 'Write its name followed by parentheses.');
    // A null answer (the model gave none) is an empty turn: both first answers are empty, so shared.
    assert.deepEqual(
      withNull.prompt.map((m) => m.content),
      ['Say nothing.', '', 'Now say something.'],
    );
    assert.deepEqual(withNull.a, [{ role: 'assistant', content: 'Something.' }]);
  });

  it('arena battles without text are explained, not read as pairs', async () => {
    await assert.rejects(loadDataset(fixture('arena-battles.jsonl')), (error: Error) => {
      assert.ok(error instanceof DatasetError);
      assert.match(error.message, /arena-battles\.jsonl: .*without text.*neither the prompt nor the two answers.*\(format "arena-battles"\)/);
      return true;
    });
  });

  it('explains the shared arena-hard battles file', { skip: sharedSkip }, async () => {
    await assert.rejects(
      loadDataset(path.join(shared, 'arena-hard-battles', 'arena_hard_battles.jsonl')),
      /arena_hard_battles\.jsonl: this file holds arena battle outcomes without text/,
    );
  });
});

describe('rated and summarised comparisons', () => {
  it('summarize-from-feedback: the post is the prompt, choice picks the summary', async () => {
    const dataset = await loadDataset(fixture('summarize-from-feedback.jsonl'));
    assert.equal(dataset.format.name, 'summarize-from-feedback');
    assert.deepEqual(
      dataset.pairs.map((p) => p.label),
      ['a', 'b', 'a'],
    );
    assert.deepEqual(dataset.malformed.map((m) => m.line), [4]);
    assert.match(dataset.malformed[0].error, /"choice" should be 0 or 1, got 2/);
    const [dog, , cnn] = dataset.pairs;
    assert.equal(
      dog.prompt[0].content,
      'SUBREDDIT: r/dogs\n\nTITLE: Dog barks all night, what do I do?\n\n' +
        'POST: My dog keeps barking at night and the neighbours complain. I tried a bark collar but it did not help.',
    );
    assert.equal(dog.prompt[0].role, 'user');
    assert.deepEqual(dog.a, [{ role: 'assistant', content: ' Dog barks at night; collar did not help. Advice?' }]);
    assert.deepEqual(dog.meta, { policyA: 'sup2', policyB: 'ppo_xl', worker: 'w7', confidence: 8, postId: 't3_34xale' });
    assert.equal(cnn.prompt[0].content, 'TITLE: Park expansion approved\n\nARTICLE: The city council voted on Tuesday to expand the park.');
  });

  it('HelpSteer3: the sign of overall_preference is the label, 0 a tie; context turns kept', async () => {
    const dataset = await loadDataset(fixture('helpsteer3.jsonl'));
    assert.equal(dataset.format.name, 'helpsteer3');
    assert.deepEqual(
      dataset.pairs.map((p) => [p.label, p.meta?.strength]),
      [
        ['a', -2],
        ['tie', 0],
        ['b', 3],
      ],
    );
    assert.deepEqual(
      dataset.pairs[1].prompt.map((m) => m.role),
      ['system', 'user', 'assistant', 'user'],
    );
    assert.deepEqual(dataset.pairs[1].a, [{ role: 'assistant', content: 'xs[::-1]' }]);
    assert.deepEqual(dataset.pairs[2].meta, { strength: 3, domain: 'multilingual', language: 'german' });
  });

  it('Label Studio pairwise export: left/right votes, cancelled ones ignored, unannotated unlabelled', async () => {
    const dataset = await loadDataset(fixture('label-studio-pairwise.json'));
    assert.equal(dataset.format.name, 'label-studio-pairwise');
    assert.deepEqual(
      dataset.pairs.map((p) => [p.line, p.label]),
      [
        [2, 'a'],
        [9, 'b'],
        [18, null],
      ],
    );
    assert.deepEqual(dataset.pairs[0].prompt, [{ role: 'user', content: 'Name a fruit.' }]);
    assert.deepEqual(dataset.pairs[0].b, [{ role: 'assistant', content: 'Carrot.' }]);
    assert.deepEqual(dataset.pairs[1].meta, { votes: { left: 0, right: 2 }, taskId: 102 });
    assert.deepEqual(dataset.malformed.map((m) => m.line), [23]);
    assert.match(dataset.malformed[0].error, /"data" has no pair of answer fields .*; it has question, first, second/);
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

  it('reports a record of another shape, naming that shape, and reads the rest', async () => {
    const dataset = await loadDataset(fixture('mixed-shapes.jsonl'));
    assert.equal(dataset.format.name, 'trl-standard');
    assert.equal(dataset.pairs.length, 2);
    assert.deepEqual(dataset.malformed, [
      { line: 2, error: 'does not fit trl-standard: missing field "chosen"; it has the shape of trl-unpaired' },
    ]);
  });

  it('reports lines that are not UTF-8 with their line numbers, and reads the others', async () => {
    const good = Buffer.from('{"prompt":"p","chosen":"c","rejected":"r"}\n');
    const latin1 = Buffer.from('{"prompt":"Caf\xe9","chosen":"c","rejected":"r"}\n', 'latin1');
    const file = path.join(scratch, 'latin1.jsonl');
    writeFileSync(file, Buffer.concat([good, latin1, good]));
    const dataset = await loadDataset(file);
    assert.deepEqual(
      dataset.pairs.map((p) => p.line),
      [1, 3],
    );
    assert.equal(dataset.malformed.length, 1);
    assert.equal(dataset.malformed[0].line, 2);
    assert.match(dataset.malformed[0].error, /not valid UTF-8: byte 0xE9 at byte 15 of the record \(after "\{\\"prompt\\":\\"Caf"\).*Latin-1/);
  });

  it('says so when a file is UTF-16', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"prompt":"p","chosen":"c","rejected":"r"}\n', 'utf16le')]);
    const file = path.join(scratch, 'utf16.jsonl');
    writeFileSync(file, utf16);
    await assert.rejects(loadDataset(file), /utf16\.jsonl: the file is not UTF-8 \(it looks like UTF-16/);
  });

  it('names the file and the fields when no format fits', async () => {
    await assert.rejects(loadDataset(fixture('unknown.jsonl')), /unknown\.jsonl: no known preference format fits \(first record's fields: question, answer\)/);
  });

  it('names the file when it cannot be read', async () => {
    await assert.rejects(loadDataset(fixture('does-not-exist.jsonl')), /does-not-exist\.jsonl: cannot read the file/);
  });

  it('reads the complete records of a truncated JSON array and reports the cut', () => {
    const dataset = parseDataset('cut.json', '[{"input":"a","output_1":"b","output_2":"c","label":1},\n{"inp');
    assert.equal(dataset.pairs.length, 1);
    assert.equal(dataset.malformed.length, 1);
    assert.equal(dataset.malformed[0].line, 2);
    assert.match(dataset.malformed[0].error, /the file ends inside this record, before the JSON array's closing "\]": it looks cut short/);
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
    assert.deepEqual(dataset.malformed, [{ line: 2, error: 'a record should be a JSON object, not an array of numbers' }]);
  });

  it('an explicit format overrides detection, and a record that does not fit it is reported', () => {
    const text = '{"input":"i","output_1":"x","output_2":"y","label":3}\n{"input":"i","output_1":"x","output_2":"y","label":2}\n';
    const dataset = parseDataset('f.jsonl', text, { format: 'llmbar' });
    assert.equal(dataset.pairs.length, 1);
    assert.match(dataset.malformed[0].error, /does not fit llmbar: field "label" should be 1 or 2, got 3/);
    assert.throws(() => parseDataset('f.jsonl', text, { format: 'nope' }), /unknown format "nope"/);
  });
});
