/**
 * The review webview's HTML and Content Security Policy, as a pure function of what VS Code hands
 * the provider (the webview's CSP source and asset URIs) so that tests can check the policy without
 * a running VS Code. Dataset text never reaches this HTML: the webview receives it by message and
 * inserts it as text nodes (webview-ui/dom.ts) or sanitized markdown (webview-ui/markdown.ts); the
 * CSP is the last line of defence.
 */

export interface WebviewHtmlOptions {
  /** `webview.cspSource`: the origin VS Code serves the webview's local resources from. */
  cspSource: string;
  /** A fresh random nonce per render (e.g. 16 random bytes, base64). */
  nonce: string;
  /** `webview.asWebviewUri(...)` of dist/webview.js, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(...)` of dist/webview-style.css, as a string. */
  styleUri: string;
}

/**
 * No inline script or style, no eval, no remote loads: `default-src 'none'` closes everything not
 * listed (connect, frame, media, object, form-action via default…), and the one script runs by nonce.
 */
export function reviewCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

/** Escapes a value for a double-quoted HTML attribute; the inputs come from VS Code, but cheaply. */
function attribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function reviewWebviewHtml({ cspSource, nonce, scriptUri, styleUri }: WebviewHtmlOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${attribute(reviewCsp(cspSource, nonce))}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${attribute(styleUri)}">
  <title>Preference Lens</title>
</head>
<body>
  <div id="app" role="application" aria-label="Preference review"></div>
  <script nonce="${attribute(nonce)}" src="${attribute(scriptUri)}"></script>
</body>
</html>`;
}
