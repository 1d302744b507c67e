/**
 * The review editor: a custom editor over preference files. The dataset is read-only here; the
 * webview shows pages of pairs it asks for, never the whole file.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { readSettings } from '../settings';
import type { ScorerService } from '../scoring/scorerService';
import type { HostToWebview, WebviewToHost } from '../shared/reviewProtocol';
import { ReviewDocument } from './reviewDocument';

export const REVIEW_VIEW_TYPE = 'preferenceLens.review';
const PAGE_SIZE = 20;

export class ReviewEditorProvider implements vscode.CustomReadonlyEditorProvider<ReviewDocument> {
  private activeDocument?: ReviewDocument;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly scorers: ScorerService,
  ) {}

  static register(context: vscode.ExtensionContext, scorers: ScorerService): ReviewEditorProvider {
    const provider = new ReviewEditorProvider(context.extensionUri, scorers);
    context.subscriptions.push(
      vscode.window.registerCustomEditorProvider(REVIEW_VIEW_TYPE, provider, {
        // Off: a hidden review re-syncs from the host's snapshot instead of holding memory.
        webviewOptions: { retainContextWhenHidden: false },
        supportsMultipleEditorsPerDocument: true,
      }),
    );
    return provider;
  }

  /** The review the user last focused, for commands run from the palette. */
  get active(): ReviewDocument | undefined {
    return this.activeDocument;
  }

  async openCustomDocument(uri: vscode.Uri): Promise<ReviewDocument> {
    const document = await ReviewDocument.open(uri, this.scorers);
    if (document.state.dataset.malformed.length) {
      const { malformed } = document.state.dataset;
      const first = malformed[0];
      void vscode.window.showWarningMessage(
        `${vscode.workspace.asRelativePath(uri)}: ${malformed.length} record(s) could not be read and are skipped ` +
          `(first: line ${first.line}: ${first.error}).`,
      );
    }
    return document;
  }

  async resolveCustomEditor(document: ReviewDocument, panel: vscode.WebviewPanel): Promise<void> {
    const { webview } = panel;
    webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist')] };
    webview.html = this.html(webview);
    const post = (message: HostToWebview) => void webview.postMessage(message);

    const subscriptions = [
      document.onDidChangeStatus((status) => post({ type: 'status', status })),
      webview.onDidReceiveMessage((message: WebviewToHost) => {
        switch (message.type) {
          case 'ready': {
            const { dataset } = document.state;
            post({
              type: 'snapshot',
              snapshot: {
                fileName: vscode.workspace.asRelativePath(document.uri),
                format: dataset.format.name,
                formatTitle: dataset.format.title,
                malformed: dataset.malformed.slice(0, 100),
                pageSize: PAGE_SIZE,
                status: document.state.status(),
              },
            });
            break;
          }
          case 'requestPage':
            post({
              type: 'page',
              offset: message.offset,
              total: document.state.dataset.pairs.length,
              rows: document.state.page(message.offset, message.count),
            });
            break;
          case 'cancelScoring':
            document.cancelScoring();
            break;
          case 'rescore':
            void document.rescore();
            break;
        }
      }),
      panel.onDidChangeViewState(() => {
        if (panel.active) this.activeDocument = document;
      }),
    ];
    this.activeDocument = document;
    panel.onDidDispose(() => {
      subscriptions.forEach((s) => s.dispose());
      if (this.activeDocument === document) this.activeDocument = undefined;
    });
    if (readSettings().scoreOnOpen) void document.score();
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', name));
    // Strict CSP: no inline script or style, no remote loads. Dataset text is only ever set as text.
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${asset('webview-style.css')}">
  <title>Preference Lens</title>
</head>
<body>
  <div id="app" role="application" aria-label="Preference review"></div>
  <script nonce="${nonce}" src="${asset('webview.js')}"></script>
</body>
</html>`;
  }
}
