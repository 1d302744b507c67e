/**
 * Reads a reward-model folder as people have it: a Hugging Face checkpoint (config.json +
 * safetensors, the graph built at load by ./hf), or an ONNX export as optimum (`model.onnx` at the
 * top) or transformers.js (`onnx/model*.onnx`) lays it out. Every failure names the file and says
 * how to get a usable one, because the person reading the message is usually pointing a setting at
 * a folder they downloaded.
 */
import { promises as fs } from 'node:fs';
import type { ModelVariant } from './workerProtocol';
import path from 'node:path';
import { hfFolderProblem, isHfFolder } from './hf/hfModel';
import { ModelFolderError } from './modelFolderError';
import { SHARD_INDEX, SINGLE_FILE } from './hf/safetensors';
import { tokenizerConfigWithSpecialTokensMap, tokenizerJsonFromSentencePiece } from './hf/sentencePiece';

/** The `config.json` fields the engine reads; the rest of the file is ignored. */
export interface ModelConfig {
  /** Label names by logit index; a reward model has one. */
  id2label?: Record<string, string>;
  _name_or_path?: string;
  architectures?: string[];
  pad_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  max_position_embeddings?: number;
}

/** Special tokens in tokenizer_config.json are either strings or `{ "content": "…" }` objects. */
export type TokenSpec = string | { content: string } | null | undefined;

export interface TokenizerConfig {
  bos_token?: TokenSpec;
  eos_token?: TokenSpec;
  pad_token?: TokenSpec;
  unk_token?: TokenSpec;
  model_max_length?: number;
  /** A template string, or the list form `[{ name, template }]` some tokenizers use. */
  chat_template?: string | Array<{ name: string; template: string }>;
}

/** What tokenization and formatting need; a remote model's local folder has only this. */
export interface TokenizerFolder {
  dir: string;
  /** Human-readable name: the hub id from config.json when it has one, else the folder name. */
  name: string;
  tokenizerJson: object;
  /** `{}` when the folder has no tokenizer_config.json. */
  tokenizerConfig: TokenizerConfig;
  /** `{}` when the folder has no config.json. */
  config: ModelConfig;
  /** chat_template.jinja when present (newer exports; it wins), else tokenizer_config's default template. */
  chatTemplate?: string;
}

/** An ONNX export: the graph file to load (its external data beside it). */
export interface OnnxModelFolder extends TokenizerFolder {
  kind: 'onnx';
  modelPath: string;
  /** The files that hold the weights, for the score cache's model identity. */
  weightFiles: string[];
}

/** A transformers checkpoint: config.json + safetensors, built into a graph at load. */
export interface CheckpointFolder extends TokenizerFolder {
  kind: 'checkpoint';
  weightFiles: string[];
}

export type ModelFolder = OnnxModelFolder | CheckpointFolder;

export { ModelFolderError };

const FOLDER_HINT =
  'Point it at a Hugging Face model folder (config.json + model.safetensors, as downloaded from the Hub), a Hub id ' +
  '(org/name), or an ONNX export (`optimum-cli export onnx -m <model id> --task text-classification <folder>`).';

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelFolderError(`Cannot read ${file}: ${(error as Error).message}`, file);
  }
}

function parseJson<T>(file: string, text: string): T {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as T;
  } catch (error) {
    throw new ModelFolderError(`${file} is not a valid JSON object: ${(error as Error).message}`, file);
  }
}

async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (stat) => stat.isFile(),
    () => false,
  );
}

function pickChatTemplate(config: TokenizerConfig): string | undefined {
  const template = config.chat_template;
  if (typeof template === 'string') return template;
  if (Array.isArray(template)) return template.find((entry) => entry.name === 'default')?.template;
  return undefined;
}

/** A hub id (`org/name`) names the model better than the folder; a local export path does not. */
function modelName(dir: string, config: ModelConfig): string {
  const declared = config._name_or_path?.trim();
  if (declared && !path.isAbsolute(declared) && !declared.startsWith('.')) return declared;
  return path.basename(path.resolve(dir));
}

async function requireFolder(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new ModelFolderError(`Model folder not found: ${dir}. ${FOLDER_HINT}`, dir);
}

/**
 * The fast-tokenizer definition: tokenizer.json, or — for the many Llama-era checkpoints that ship
 * only a SentencePiece `tokenizer.model` — that model converted in process the way transformers'
 * convert_slow_tokenizer does.
 */
async function readTokenizerJson(dir: string, tokenizerConfig: TokenizerConfig): Promise<object> {
  const tokenizerPath = path.join(dir, 'tokenizer.json');
  const tokenizerText = await readOptional(tokenizerPath);
  if (tokenizerText !== undefined) return parseJson<object>(tokenizerPath, tokenizerText);
  for (const name of ['tokenizer.model', 'spm.model']) {
    const sentencePiecePath = path.join(dir, name);
    const bytes = await fs.readFile(sentencePiecePath).catch(() => undefined);
    if (bytes === undefined) continue;
    // Older folders name their special tokens only in special_tokens_map.json; transformers lays it over the config.
    const mapPath = path.join(dir, 'special_tokens_map.json');
    const mapText = await readOptional(mapPath);
    const config = mapText === undefined ? tokenizerConfig : tokenizerConfigWithSpecialTokensMap(tokenizerConfig, parseJson<object>(mapPath, mapText));
    return tokenizerJsonFromSentencePiece(bytes, config, sentencePiecePath);
  }
  throw new ModelFolderError(
    `Missing ${tokenizerPath}: the scorer needs the model's tokenizer (tokenizer.json, or a SentencePiece tokenizer.model). ` +
      "Copy the tokenizer files from the model's Hub page into the folder, or save them with Python transformers: " +
      '`AutoTokenizer.from_pretrained(<model id>).save_pretrained(<folder>)`.',
    tokenizerPath,
  );
}

/** The tokenizer files and configs of a folder, without requiring the weights. */
export async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
  await requireFolder(dir);
  const tokenizerConfigPath = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfigText = await readOptional(tokenizerConfigPath);
  const tokenizerConfig = tokenizerConfigText === undefined ? {} : parseJson<TokenizerConfig>(tokenizerConfigPath, tokenizerConfigText);

  const tokenizerJson = await readTokenizerJson(dir, tokenizerConfig);

  const configPath = path.join(dir, 'config.json');
  const configText = await readOptional(configPath);
  const config = configText === undefined ? {} : parseJson<ModelConfig>(configPath, configText);

  const chatTemplate = (await readOptional(path.join(dir, 'chat_template.jinja'))) ?? pickChatTemplate(tokenizerConfig);

  return { dir, name: modelName(dir, config), tokenizerJson, tokenizerConfig, config, chatTemplate };
}

/** The file names each variant may have, at the top of the folder (optimum) or in onnx/ (transformers.js). */
const VARIANT_FILES: Record<Exclude<ModelVariant, 'auto'>, string[]> = {
  fp32: ['model.onnx'],
  fp16: ['model_fp16.onnx'],
  quantized: ['model_quantized.onnx', 'model_int8.onnx', 'model_uint8.onnx'],
  int8: ['model_int8.onnx', 'model_quantized.onnx', 'model_uint8.onnx'],
  int4: ['model_q4.onnx'],
};
const AUTO_ORDER: Array<Exclude<ModelVariant, 'auto'>> = ['fp32', 'quantized', 'fp16'];
/** Variants a checkpoint is built in (see hf/layers.ts Precision); `auto` picks by memory at load. */
const CHECKPOINT_VARIANTS: ReadonlySet<ModelVariant> = new Set(['auto', 'fp32', 'int8', 'int4', 'quantized']);

async function onnxCandidates(dir: string, variant: ModelVariant): Promise<{ found?: string; looked: string[] }> {
  const looked = (variant === 'auto' ? AUTO_ORDER : [variant]).flatMap((v) => VARIANT_FILES[v].flatMap((file) => [path.join(dir, file), path.join(dir, 'onnx', file)]));
  for (const candidate of looked) if (await isFile(candidate)) return { found: candidate, looked };
  return { looked };
}

/**
 * The model in `dir`. A checkpoint (safetensors) wins over an ONNX export in the same folder for
 * every variant it can be built in: its graph is ours, so its padding and pooling are known, and it
 * equals transformers; an export is used for the variants only it has (fp16 files) or when it is
 * all there is.
 */
export async function readModelFolder(dir: string, variant: ModelVariant = 'auto'): Promise<ModelFolder> {
  await requireFolder(dir);
  if (isHfFolder(dir) && CHECKPOINT_VARIANTS.has(variant)) {
    const index = path.join(dir, SHARD_INDEX);
    const weightFiles = (await isFile(index))
      ? [...new Set(Object.values((parseJson<{ weight_map?: Record<string, string> }>(index, (await readOptional(index)) ?? '{}').weight_map ?? {})))].sort().map((file) => path.join(dir, file))
      : [path.join(dir, SINGLE_FILE)];
    return { ...(await readTokenizerFolder(dir)), kind: 'checkpoint', weightFiles };
  }
  const { found, looked } = await onnxCandidates(dir, variant);
  if (!found) {
    const problem = hfFolderProblem(dir);
    if (problem) throw new ModelFolderError(problem, dir);
    const what = variant === 'auto' || variant === 'fp32' ? 'No model.safetensors, model.safetensors.index.json or model.onnx' : `No ${variant} model`;
    const checkpointNote = isHfFolder(dir) ? ` (the checkpoint here is built as auto, fp32, int8 or int4, not ${variant})` : '';
    throw new ModelFolderError(`${what} in ${dir}${checkpointNote} (looked for ${looked.map((file) => path.relative(dir, file)).join(', ')}). ${FOLDER_HINT}`, looked[0]);
  }
  const modelDir = path.dirname(found);
  const base = path.basename(found);
  // `model.onnx_data` (optimum) or `model.onnx.data` hold the weights of exports past 2 GB.
  const weightFiles = (await fs.readdir(modelDir))
    .filter((name) => name.startsWith(base))
    .sort()
    .map((name) => path.join(modelDir, name));
  return { ...(await readTokenizerFolder(dir)), kind: 'onnx', modelPath: found, weightFiles };
}
