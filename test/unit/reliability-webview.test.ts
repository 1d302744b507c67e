/**
 * Hostile text is inert, unit level (issue 6 item 1; the end-to-end half is
 * test/e2e/hostile.e2e.test.ts): the webview's Content Security Policy allows no inline script, no
 * eval and no remote loads, and the webview code has no way to parse text as HTML.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { reviewCsp, reviewWebviewHtml } from '../../src/editor/webviewHtml';

const repo = path.resolve(__dirname, '../..');
const CSP_SOURCE = 'https://*.vscode-cdn.net';
const NONCE = 'bm9uY2Utbm9uY2Utbm9uY2U=';
const OPTIONS = {
  cspSource: CSP_SOURCE,
  nonce: NONCE,
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview-style.css',
};

/** `directive -> sources`, as a browser reads the policy. */
function parseCsp(policy: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), sources);
  }
  return directives;
}

function metaCsp(html: string): string {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/i.exec(html);
  assert.ok(match, 'the HTML has a CSP meta tag');
  return match[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

test('the CSP allows no inline script, no eval and nothing remote', () => {
  const policy = metaCsp(reviewWebviewHtml(OPTIONS));
  assert.equal(policy, reviewCsp(CSP_SOURCE, NONCE));
  for (const keyword of ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", "'strict-dynamic'"]) {
    assert.ok(!policy.includes(keyword), `CSP must not contain ${keyword}: ${policy}`);
  }
  const directives = parseCsp(policy);
  // Everything not listed falls back to default-src: connect, frame, media, object, worker…
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), [`'nonce-${NONCE}'`], 'scripts only by nonce');
  for (const [name, sources] of directives) {
    for (const source of sources) {
      const allowed = source === "'none'" || source === CSP_SOURCE || source === `'nonce-${NONCE}'`;
      assert.ok(allowed, `${name} allows ${source}: only 'none', the webview's own origin and the nonce are expected`);
    }
  }
  for (const opened of ['connect-src', 'frame-src', 'child-src', 'object-src', 'worker-src', 'media-src', 'form-action']) {
    assert.ok(!directives.has(opened), `${opened} should stay closed by default-src 'none'`);
  }
});

test('the HTML has one script, by nonce, and no inline script, handler or style', () => {
  const html = reviewWebviewHtml(OPTIONS);
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0]![1]!, new RegExp(`nonce="${NONCE.replace(/[+/=]/g, '\\$&')}"`));
  assert.match(scripts[0]![1]!, /src="[^"]+webview\.js"/);
  assert.equal(scripts[0]![2]!.trim(), '', 'no inline script body');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handlers');
  assert.doesNotMatch(html, /<style\b|\sstyle\s*=/i, 'no inline style');
});

test('a nonce or URI with quotes cannot break out of its attribute', () => {
  const html = reviewWebviewHtml({ ...OPTIONS, nonce: 'x"><script>alert(1)</script>', scriptUri: 'a"onload="alert(1)' });
  assert.equal([...html.matchAll(/<script\b/gi)].length, 1);
  assert.doesNotMatch(html, /\sonload=/i);
});

test('a fresh nonce each render ends up in both the policy and the script tag', () => {
  const a = reviewWebviewHtml({ ...OPTIONS, nonce: 'AAAA' });
  const b = reviewWebviewHtml({ ...OPTIONS, nonce: 'BBBB' });
  assert.match(a, /'nonce-AAAA'/);
  assert.match(a, /nonce="AAAA"/);
  assert.doesNotMatch(a, /BBBB/);
  assert.match(b, /'nonce-BBBB'/);
});

/**
 * Static guard for the first line of defence: the webview code only builds DOM from text nodes
 * and attributes (webview-ui/dom.ts). Any API that parses a string as HTML or code would let a
 * dataset record become markup or script, so none may appear in the webview or editor code.
 */
test('webview and editor code never parse strings as HTML or code', () => {
  const dirs = ['webview-ui', 'src/editor'];
  const forbidden = [
    /\.innerHTML\b/,
    /\.outerHTML\b/,
    /insertAdjacentHTML/,
    /document\.write/,
    /DOMParser/,
    /createContextualFragment/,
    /\bsrcdoc\b/,
    /\beval\s*\(/,
    /new Function\s*\(/,
    /'unsafe-(inline|eval|hashes)'/,
  ];
  let checked = 0;
  for (const dir of dirs) {
    for (const file of readdirSync(path.join(repo, dir)).filter((f) => /\.ts$/.test(f))) {
      const text = readFileSync(path.join(repo, dir, file), 'utf8')
        // Comments may name what is forbidden (e.g. "never as innerHTML").
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/(^|[^:])\/\/.*$/gm, '$1');
      for (const pattern of forbidden) assert.doesNotMatch(text, pattern, `${dir}/${file} uses ${pattern}`);
      checked++;
    }
  }
  assert.ok(checked >= 5, `expected to check the webview and editor sources, checked ${checked}`);
});
