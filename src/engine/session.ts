/**
 * Creates the onnxruntime session on the best available execution provider. onnxruntime-node does
 * not fall back by itself (`['cuda', 'cpu']` throws when the CUDA libraries are missing), so each
 * provider is tried alone, in order, and the reason for every skipped one is kept for the user.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Device } from '../shared/workerProtocol';

export interface CreatedSession {
  session: ort.InferenceSession;
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
    'onnxruntime-node needs CUDA 12 and cuDNN 9 installed, and its CUDA provider libraries, which its install ' +
    'script downloads (skipped or failed when installed offline)',
};

function describe(provider: string, message: string): string {
  const hint = HINTS[provider];
  return `${provider} unavailable: ${message.trim()}${hint ? ` (${hint})` : ''}`;
}

export async function createSession(modelPath: string, device: Device = 'auto'): Promise<CreatedSession> {
  // Provider probing logs native errors to stderr (the extension host's log); the failures are
  // reported through fallbackReason instead, and real errors still throw.
  ort.env.logLevel = 'fatal';
  // Providers not compiled into this platform's binary would be silently dropped by onnxruntime
  // (dml/coreml elsewhere): the session would run on CPU while we reported the accelerator.
  const available = new Set(ort.listSupportedBackends().map((backend) => backend.name));
  const reasons: string[] = [];
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
        intraOpNumThreads: cpuThreads(),
      });
      return { session, device: provider, fallbackReason: reasons.length > 0 ? reasons.join('; ') : undefined };
    } catch (error) {
      lastError = error;
      reasons.push(describe(provider, error instanceof Error ? error.message : String(error)));
    }
  }
  throw new Error(`Cannot load ${modelPath}: ${reasons.join('; ')}`, { cause: lastError });
}

/**
 * Threads for CPU kernels: every core but one, so the editor (and the user's other work) keeps a
 * core while a long scoring run goes on; onnxruntime's default takes them all.
 */
export function cpuThreads(cores = os.availableParallelism()): number {
  return Math.max(1, cores - 1);
}
