/**
 * Runs test/integration/suite inside a real desktop VS Code via @vscode/test-electron.
 *
 * test-electron downloads VS Code from update.code.visualstudio.com. Where that host is
 * unreachable (machines that reach only the npm registry, like the project's sandboxes) the run
 * prints "SKIPPED: ..." and exits 0, so the gap is visible in the log instead of passing
 * silently; set PLENS_REQUIRE_VSCODE=1 (e.g. on a public CI runner) to make it a failure instead.
 * Any other error, including failing tests, exits non-zero. On Linux without a display, run it
 * under xvfb-run.
 */
import path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';

const repoRoot = path.resolve(__dirname, '../..');
/** Error codes that mean "no route to the download server", not "VS Code is broken". */
const NETWORK_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH']);

async function main(): Promise<number> {
  let vscodeExecutablePath: string;
  try {
    vscodeExecutablePath = await downloadAndUnzipVSCode({ cachePath: path.join(repoRoot, '.vscode-test'), timeout: 30_000 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && NETWORK_ERRORS.has(code) && process.env.PLENS_REQUIRE_VSCODE !== '1') {
      console.log(`SKIPPED: integration tests did not run because VS Code could not be downloaded (${code}: ${(error as Error).message}); set PLENS_REQUIRE_VSCODE=1 to fail instead`);
      return 0;
    }
    throw error;
  }
  return runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: repoRoot,
    // Compiled by the test:integration script (esbuild); the extension host cannot load .ts.
    extensionTestsPath: path.join(repoRoot, 'out/integration/suite/index.js'),
    // Other installed extensions would slow startup and could interfere with activation.
    launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
