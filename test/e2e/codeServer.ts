/**
 * A real VS Code for tests and `npm start`: code-server (VS Code server + web workbench) run by the
 * private Node 24 that scripts/ensure-vscode-host.sh installs. No browser here, so that
 * scripts/start.mjs can use it without Playwright; test/e2e/harness.ts adds the browser.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../..');

/** What ensure-vscode-host.sh wrote to .cache/vscode-host/host.json. */
export interface HostPaths {
  node: string;
  codeServer: string;
  chromium: string;
}

/** Runs the (idempotent, ~0s when cached) install script and returns the paths it reports. */
export function ensureHost(): HostPaths {
  const script = path.join(repoRoot, 'scripts/ensure-vscode-host.sh');
  // stderr carries the script's progress lines; stdout is just the host.json path.
  const hostJson = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return JSON.parse(readFileSync(hostJson, 'utf8')) as HostPaths;
}

/**
 * The environment for code-server and its extension host. Variables that an outer VS Code (a
 * terminal inside VS Code, or a test run by one) sets would make code-server's CLI hand the
 * command to that outer instance instead of doing it, and NODE_OPTIONS from a tsx-driven test would
 * be loaded into every Node 24 child.
 */
function childEnv(baseDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('VSCODE_') || key === 'NODE_OPTIONS' || key === 'ELECTRON_RUN_AS_NODE') continue;
    env[key] = value;
  }
  // The server and its extension host leave IPC sockets (vscode-ipc-*.sock, vscode-git-*.sock) in
  // the temp dir when killed; keep them inside baseDir so they go away with it.
  env.TMPDIR = path.join(baseDir, 'tmp');
  return env;
}

export interface CodeServerOptions {
  host: HostPaths;
  /** Folder opened in the workbench. */
  workspace: string;
  /** A packaged extension to install before start. */
  vsix?: string;
  /** Merged over the defaults into the user settings.json. */
  settings?: Record<string, unknown>;
  /** The user keybindings.json, written before the server starts (it does not follow later edits at once). */
  keybindings?: unknown[];
  /** Port on 127.0.0.1; 0 (the default) lets the OS pick a free one. */
  port?: number;
  /**
   * Reuse the user data, extensions and backups of an earlier server (its `baseDir`) instead of a
   * fresh temp dir: a restart after a crash. Settings are left as that server wrote them.
   */
  baseDir?: string;
}

/** Settings that keep the workbench quiet and, above all, trusted: in Restricted Mode a
 * non-marketplace extension is not activated. */
const DEFAULT_SETTINGS = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'chat.disableAIFeatures': true,
};

export interface CodeServer {
  /** `http://127.0.0.1:<port>` without a trailing slash. */
  origin: string;
  /** The server's pid, which is also its process group id (it is spawned detached). */
  pid: number;
  baseDir: string;
  userDataDir: string;
  /** code-server's own stdout+stderr. */
  serverLog: string;
  /** The workbench URL for `workspace`, optionally opening `file` in it on startup. */
  url(file?: string): string;
  /** Settles with the exit code when the server exits, whether by stop() or on its own. */
  exited: Promise<number | null>;
  /** Stops the server's whole process group; leaves baseDir (and its logs) to the caller. */
  stop(): Promise<void>;
  /** SIGKILLs the whole process group at once, as a crash or power cut would: no shutdown hooks run. */
  crash(): Promise<void>;
  /** The live processes of the server's group (extension host, pty host, file watcher, ...). */
  processes(): GroupProcess[];
}

export interface GroupProcess {
  pid: number;
  /** The command line, arguments joined with spaces. */
  args: string;
}

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  // User data, extensions, logs and sockets: one temp dir per server, so runs never share state
  // (unless a test restarts a server on purpose, with the baseDir of the one it replaces).
  const reuse = options.baseDir !== undefined;
  const baseDir = options.baseDir ?? mkdtempSync(path.join(os.tmpdir(), 'plens-code-server-'));
  const userDataDir = path.join(baseDir, 'user-data');
  const extensionsDir = path.join(baseDir, 'extensions');
  const serverLog = path.join(baseDir, 'code-server.log');
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  mkdirSync(path.join(baseDir, 'tmp'), { recursive: true });
  const env = childEnv(baseDir);
  if (!reuse || options.settings) {
    writeFileSync(
      path.join(userDataDir, 'User/settings.json'),
      JSON.stringify({ ...DEFAULT_SETTINGS, ...options.settings }, null, 2),
    );
  }
  if (options.keybindings) writeFileSync(path.join(userDataDir, 'User/keybindings.json'), JSON.stringify(options.keybindings, null, 2));

  // Without --config code-server writes ~/.config/code-server/config.yaml on every run.
  const common = [
    options.host.codeServer,
    '--config', path.join(baseDir, 'config.yaml'),
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
  ];
  if (options.vsix) {
    execFileSync(options.host.node, [...common, '--install-extension', path.resolve(options.vsix), '--force'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  const child = spawn(
    options.host.node,
    [
      ...common,
      // Port 0: the OS picks a free port and code-server prints it, so two runs never race for one.
      '--bind-addr', `127.0.0.1:${options.port ?? 0}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      options.workspace,
    ],
    // Its own process group, so stop() reaches the extension host, pty host and watchers too.
    { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killGroup = () => killProcessGroup(child);
  // A test that crashes or is interrupted must not leave a server behind.
  process.once('exit', killGroup);

  // Append: a restarted server's log follows the one it replaces.
  const log = createWriteStream(serverLog, { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let origin: string;
  try {
    origin = await waitForListening(child, serverLog);
  } catch (error) {
    process.off('exit', killGroup);
    killGroup();
    throw error;
  }

  const workspace = path.resolve(options.workspace);
  return {
    origin,
    pid: child.pid!,
    baseDir,
    userDataDir,
    serverLog,
    exited,
    url(file?: string) {
      const params = new URLSearchParams({ folder: workspace });
      if (file) {
        // The web workbench opens `payload`'s openFile entry at startup (VS Code's
        // BrowserWorkbenchEnvironmentService.filesToOpenOrCreate); files on the server are
        // vscode-remote URIs whose authority is the server's host:port.
        const fileUri = `vscode-remote://${new URL(origin).host}${encodeURI(path.resolve(file))}`;
        params.set('payload', JSON.stringify([['openFile', fileUri]]));
      }
      return `${origin}/?${params.toString()}`;
    },
    async stop() {
      process.off('exit', killGroup);
      await stopProcessGroup(child, exited);
      log.end();
    },
    async crash() {
      process.off('exit', killGroup);
      killProcessGroup(child, 'SIGKILL');
      await exited;
      log.end();
    },
    processes() {
      return processGroup(child.pid!);
    },
  };
}

/**
 * The processes whose process group is `pgid`, from /proc (Linux only, like the rest of the host).
 * Field 5 of /proc/<pid>/stat is the group; the command name in field 2 may contain spaces and
 * parentheses, so fields are counted from the last ')'.
 */
export function processGroup(pgid: number): GroupProcess[] {
  const found: GroupProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state (field 3); a zombie has no command line left and is already dead.
      if (Number(fields[2]) !== pgid || fields[0] === 'Z') continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), args });
    } catch {
      // The process exited between readdir and read.
    }
  }
  return found;
}

function waitForListening(child: ChildProcess, serverLog: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error('code-server did not start within 60s')), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        cleanup();
        resolve(match[1]!);
      }
    };
    const onExit = (code: number | null) => fail(new Error(`code-server exited with ${code} before listening`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    function fail(error: Error) {
      cleanup();
      reject(new Error(`${error.message}; see ${serverLog}:\n${output}`));
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Signals the whole group by its id (the leader's pid); ESRCH means it is already gone. */
function killProcessGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/** SIGTERM the group, SIGKILL it if the server has not exited after 5s, and finally SIGKILL
 * whatever is left: the leader may exit before its children (extension host, pty host, watchers). */
async function stopProcessGroup(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  killProcessGroup(child, 'SIGTERM');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    killProcessGroup(child, 'SIGKILL');
    await exited;
  }
  killProcessGroup(child, 'SIGKILL');
}
