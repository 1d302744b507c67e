// The webview's markdown renderer, run against a DOM in plain Node: formatting survives, nothing
// that could run, load or navigate does.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { JSDOM } from 'jsdom';

let renderMarkdown: (text: string) => DocumentFragment;

before(async () => {
  const { window } = new JSDOM('<!DOCTYPE html><body></body>');
  // DOMPurify binds to the global window when its module loads.
  Object.assign(globalThis, { window, document: window.document, Node: window.Node, DocumentFragment: window.DocumentFragment });
  ({ renderMarkdown } = await import('../../webview-ui/markdown.js'));
});

function html(text: string): { html: string; text: string; elements: Element[] } {
  const fragment = renderMarkdown(text);
  const holder = (globalThis as unknown as { document: Document }).document.createElement('div');
  holder.append(fragment);
  return { html: holder.innerHTML, text: holder.textContent ?? '', elements: [...holder.querySelectorAll('*')] };
}

describe('renderMarkdown', () => {
  it('renders formatting, lists and code', () => {
    const out = html('# Title\n\nSome **bold** and `code`.\n\n- one\n- two\n\n```js\nlet x = 1;\n```');
    assert.deepEqual(
      out.elements.map((e) => e.tagName.toLowerCase()),
      ['h1', 'p', 'strong', 'code', 'ul', 'li', 'li', 'pre', 'code'],
    );
  });

  it('keeps raw HTML as text', () => {
    const out = html('<script>window.pwned = 1</script><img src=x onerror="window.pwned=1"><b>bold?</b>');
    assert.ok(out.text.includes('<script>window.pwned = 1</script>'));
    assert.ok(out.text.includes('<img src=x onerror="window.pwned=1">'));
    assert.deepEqual(out.elements.map((e) => e.tagName.toLowerCase()), ['p']);
  });

  it('shows links and images as text naming their target, never as live elements', () => {
    const out = html('[click me](javascript:alert(1)) [site](https://example.com) ![pic](https://example.com/x.png) <https://example.com/auto>');
    assert.equal(out.elements.filter((e) => ['a', 'img'].includes(e.tagName.toLowerCase())).length, 0);
    assert.ok(out.text.includes('click me'));
    assert.ok(out.text.includes('(https://example.com)'));
    assert.ok(out.text.includes('[image: pic] (https://example.com/x.png)'));
  });

  it('leaves no attribute but class on any element', () => {
    const out = html('*x* <span style="color:red" onclick="x()">y</span> [a](b "title") ![i](data:image/png;base64,AAAA)\n\n| a | b |\n|---|:-:|\n| 1 | 2 |');
    for (const element of out.elements) {
      for (const attribute of element.attributes) assert.equal(attribute.name, 'class', `${element.tagName} has ${attribute.name}`);
    }
    // The table's column alignment (a style attribute from markdown-it) is dropped with the rest.
    assert.ok(out.elements.some((e) => e.tagName.toLowerCase() === 'td'));
    assert.ok(out.text.includes('<span style="color:red" onclick="x()">y</span>'));
  });
});
