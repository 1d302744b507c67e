import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSelectedConversation } from '../../src/core/transcript';

describe('readSelectedConversation', () => {
  it('reads an HH transcript, with or without the leading blank lines', () => {
    for (const text of ['\n\nHuman: Hi\n\nAssistant: Hello!', 'Human: Hi\n\nAssistant: Hello!']) {
      assert.deepEqual(readSelectedConversation(text), {
        prompt: [{ role: 'user', content: 'Hi' }],
        response: [{ role: 'assistant', content: 'Hello!' }],
        form: 'hh-rlhf',
      });
    }
  });

  it('reads a multi-turn Tulu transcript and drops the EOS', () => {
    const read = readSelectedConversation('<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello!</s>\n<|user|>\nBye\n<|assistant|>\nBye!</s>');
    assert.equal(read.form, 'tulu');
    assert.deepEqual(read.prompt, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Bye' },
    ]);
    assert.deepEqual(read.response, [{ role: 'assistant', content: 'Bye!' }]);
  });

  it('anything else, or a transcript that does not end with an answer, is a bare response', () => {
    assert.deepEqual(readSelectedConversation('Just some text'), { prompt: [], response: [{ role: 'assistant', content: 'Just some text' }], form: 'response' });
    assert.equal(readSelectedConversation('Human: only a question').form, 'response');
  });
});
