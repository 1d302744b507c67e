/**
 * The webview's line to the host: messages out, requests with typed replies (src/shared/requests.ts),
 * and the view state VS Code keeps for a hidden or restored webview. `acquireVsCodeApi` may be called
 * once per page, so it is called here and nowhere else.
 */
import { RequestClient } from '../src/shared/requests';
import type { HostToWebview, ReviewRequests, RowQuery, WebviewToHost } from '../src/shared/reviewProtocol';

/** What survives the webview being hidden, moved or restored with the window. */
export interface ViewState {
  query: RowQuery;
  /** Position of the focused pair in the list. */
  focus: number;
  showStats: boolean;
  raw: boolean;
}

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

export const post = (message: WebviewToHost) => vscode.postMessage(message);
export const host = new RequestClient<ReviewRequests>(post);
export const savedViewState = (): ViewState | undefined => vscode.getState();
export const saveViewState = (state: ViewState) => vscode.setState(state);

/** Every message from the host that is not a reply: replies settle their request and stop here. */
export function onHostMessage(handle: (message: Exclude<HostToWebview, { type: 'reply' }>) => void): void {
  window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
    const message = event.data;
    if (message.type === 'reply') host.receive(message);
    else handle(message);
  });
}
