/**
 * Creates the onnxruntime session on the best available execution provider. onnxruntime-node does
 * not fall back by itself (`['cuda', 'cpu']` throws when the CUDA libraries are missing), so each
 * provider is tried alone, in order, and the reason for every skipped one is kept for the user.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import type { Device } from './workerProtocol';

let runtime: typeof Ort | undefined;

/**
 * onnxruntime-node, loaded once per process: from `runtimeDir` (a copy with the CUDA providers beside
 * its library, installed by *Install GPU Support*, see gpu/cudaProviderInstall.ts) when given, else
 * the bundled package. A process can load onnxruntime's native library only once — the first load
 * wins for the whole worker — so nothing may import the package statically, or the bundled copy
 * (which has no CUDA providers) would be in memory before the installed one could be chosen.
 */
export function onnxRuntime(runtimeDir?: string): typeof Ort {
  runtime ??= createRequire(__filename)(runtimeDir ?? 'onnxruntime-node') as typeof Ort;
  return runtime;
}

export interface CreatedSession {
  session: Ort.InferenceSession;
  /** The provider the session runs on. */
  device: string;
  /** Why the preferred provider(s) were not used; absent when the first choice worked. */
  fallbackReason?: string;
}

/** Accelerator worth trying first on each platform; CPU is always the last resort. */
function platformAccelerator(platform: NodeJS.Platform, arch: string): string | undefined {
  if (platform === 'linux' && arch === 'x64') return 'cuda';
  if (platform === 'win32') return 'dml';
  if (platform === 'darwin') return 'coreml';
  return undefined;
}

/** The providers to try, in order. A forced device still falls back to CPU (with the reason shown). */
export function providerOrder(device: Device = 'auto', platform: NodeJS.Platform = process.platform, arch: string = process.arch): string[] {
  const first = device === 'auto' ? platformAccelerator(platform, arch) : device;
  return first === undefined || first === 'cpu' ? ['cpu'] : [first, 'cpu'];
}

const HINTS: Record<string, string> = {
  cuda:
    'onnxruntime-node needs CUDA 12 and cuDNN 9 installed, and its CUDA provider libraries: in VS Code run ' +
    '"Preference Lens: Install GPU Support"; from a clone, `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`',
};

function describe(provider: string, message: string): string {
  const hint = HINTS[provider];
  return `${provider} unavailable: ${message.trim()}${hint ? ` (${hint})` : ''}`;
}

/**
 * Whether the provider failed only because its libraries are not on this machine (onnxruntime cannot
 * load its CUDA provider library, or that library cannot load the CUDA runtime), as opposed to being
 * installed and failing. On most machines CUDA simply is not there, and trying it is a formality.
 */
export function notInstalled(message: string): boolean {
  return /Failed to load (shared )?library|cannot open shared object|LoadLibrary failed|libcudart|libcublas|libcudnn|error code 126/i.test(message);
}

/** The one-line note for an automatic choice that found no accelerator installed: no error text, a pointer to it. */
const notInstalledNote = (provider: string) =>
  `no ${provider.toUpperCase()} libraries on this machine (choose the device "${provider}" to see why, or install GPU support)`;

export async function createSession(modelPath: string, device: Device = 'auto', threads = cpuThreads(), runtimeDir?: string): Promise<CreatedSession> {
  const ort = onnxRuntime(runtimeDir);
  // Provider probing logs native errors to stderr (the extension host's log); the failures are
  // reported through fallbackReason instead, and real errors still throw.
  ort.env.logLevel = 'fatal';
  // Providers not compiled into this platform's binary would be silently dropped by onnxruntime
  // (dml/coreml elsewhere): the session would run on CPU while we reported the accelerator.
  const available = new Set(ort.listSupportedBackends().map((backend) => backend.name));
  const reasons: string[] = [];
  /** Errors of providers that are installed and failed: the real cause of a model that will not load. */
  const failures: string[] = [];
  let lastError: unknown;
  for (const provider of providerOrder(device)) {
    if (!available.has(provider)) {
      reasons.push(describe(provider, `not supported by onnxruntime-node on ${process.platform}/${process.arch}`));
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: threads,
      });
      return { session, device: provider, fallbackReason: reasons.length > 0 ? reasons.join('; ') : undefined };
    } catch (error) {
      lastError = error;
      const message = error instanceof Error ? error.message : String(error);
      // Asked for nothing in particular, a machine without CUDA gets a short note, not CUDA's error
      // text; asked for the device, the user gets all of it.
      if (device === 'auto' && provider !== 'cpu' && notInstalled(message)) reasons.push(notInstalledNote(provider));
      else {
        reasons.push(describe(provider, message));
        failures.push(provider === 'cpu' ? message.trim() : describe(provider, message));
      }
    }
  }
  // The model's own error first (a broken model.onnx fails on the CPU too): the accelerators' come after.
  const cause = failures.length ? failures.reverse().join('; ') : reasons.join('; ');
  throw new Error(`Cannot load ${modelPath}: ${cause}`, { cause: lastError });
}

/**
 * Threads for CPU kernels: every core but one, so the editor (and the user's other work) keeps a
 * core while a long scoring run goes on; onnxruntime's default takes them all.
 */
export function cpuThreads(cores = os.availableParallelism()): number {
  return Math.max(1, cores - 1);
}
