/** Typed view of the `preferenceLens.*` settings; mirrors `contributes.configuration`. */
import * as vscode from 'vscode';
import type { ModelVariant, TemplateChoice } from './engine/workerProtocol';
import { DEFAULT_RESOLVE_POLICY, RESOLVE_POLICIES, type ResolvePolicy } from './core/labelResolution';

export const SECTION = 'preferenceLens';

export interface ModelSettings {
  /** Model folder, Hub id or endpoint; empty means the bundled baseline model. */
  modelPath: string;
  device: string;
  maxLength: number | undefined;
  batchTokens: number | undefined;
  template: TemplateChoice;
  variant: ModelVariant;
  /** Which logit is the reward of a multi-label model. */
  logitIndex: number | undefined;
  /** Unload the model after this many idle minutes; 0 keeps it loaded. */
  unloadAfterMinutes: number;
  /** Endpoints: requests in flight per endpoint, and rows per request (server defaults when undefined). */
  remoteConcurrency: number | undefined;
  remoteBatchSize: number | undefined;
}

export interface Settings extends ModelSettings {
  /**
   * Further reward models (folders, Hub ids, endpoints) that score every review besides `modelPath`,
   * with the same device and template settings, one after the other: `plens score --model A --model B`.
   */
  additionalModels: string[];
  scoreOnOpen: boolean;
  /** Name recorded with each annotation; empty means the git user name. */
  annotator: string;
  /** Review without seeing scores or file labels, sides shuffled. */
  blindMode: boolean;
  /** Which label an export writes for a pair a team labelled (src/core/labelResolution.ts). */
  exportResolve: ResolvePolicy;
}

export function readSettings(): Settings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    modelPath: config.get<string>('modelPath', '').trim(),
    device: config.get<string>('device', 'auto'),
    maxLength: config.get<number | null>('maxLength') ?? undefined,
    batchTokens: config.get<number | null>('batchTokens') ?? undefined,
    template: config.get<TemplateChoice>('template', 'auto'),
    variant: config.get<ModelVariant>('modelVariant', 'auto'),
    logitIndex: config.get<number | null>('logitIndex') ?? undefined,
    unloadAfterMinutes: Math.max(0, config.get<number>('unloadAfterMinutes', 0)),
    remoteConcurrency: config.get<number | null>('remoteConcurrency') ?? undefined,
    remoteBatchSize: config.get<number | null>('remoteBatchSize') ?? undefined,
    // Blank entries and repeats say nothing more: dropped, as the first model is (its own column).
    additionalModels: [...new Set(config.get<unknown[]>('additionalModels', []).filter((m): m is string => typeof m === 'string').map((m) => m.trim()).filter(Boolean))],
    scoreOnOpen: config.get<boolean>('scoreOnOpen', true),
    annotator: config.get<string>('annotator', '').trim(),
    blindMode: config.get<boolean>('blindMode', false),
    exportResolve: resolvePolicy(config.get<string>('exportResolve', DEFAULT_RESOLVE_POLICY)),
  };
}

/** Settings that change which model runs, or how: a change means re-creating the scorer. */
export const MODEL_SETTINGS = ['modelPath', 'device', 'maxLength', 'batchTokens', 'template', 'modelVariant', 'logitIndex', 'unloadAfterMinutes', 'remoteConcurrency', 'remoteBatchSize'].map((key) => `${SECTION}.${key}`);

const resolvePolicy = (value: string): ResolvePolicy => ((RESOLVE_POLICIES as readonly string[]).includes(value) ? (value as ResolvePolicy) : DEFAULT_RESOLVE_POLICY);

/** The setting naming the further models a review is scored by (see Settings.additionalModels). */
export const ADDITIONAL_MODELS_SETTING = `${SECTION}.additionalModels`;
