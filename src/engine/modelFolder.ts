/**
 * Reads a reward-model folder as optimum (`model.onnx` at the top) or transformers.js (`onnx/model.onnx`)
 * lays it out. Every failure names the file and says how to get a usable one, because the person
 * reading the message is usually pointing a setting at a folder they downloaded.
 */
import { promises as fs } from 'node:fs';
import type { ModelVariant } from '../shared/workerProtocol';
import path from 'node:path';

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

export interface ModelFolder extends TokenizerFolder {
  modelPath: string;
}

export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
  constructor(
    message: string,
    /** The file (or folder) the problem is about. */
    readonly file: string,
  ) {
    super(message);
  }
}

const EXPORT_HINT =
  'Export a reward model with `optimum-cli export onnx -m <model id> --task text-classification <folder>` ' +
  '(add `--pad_token_id <id>` for Llama-based models).';

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
  if (!stat?.isDirectory()) throw new ModelFolderError(`Model folder not found: ${dir}. ${EXPORT_HINT}`, dir);
}

/** The tokenizer files and configs of a folder, without requiring the ONNX weights. */
export async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
  await requireFolder(dir);
  const tokenizerPath = path.join(dir, 'tokenizer.json');
  const tokenizerText = await readOptional(tokenizerPath);
  if (tokenizerText === undefined) {
    throw new ModelFolderError(
      `Missing ${tokenizerPath}: the scorer needs the fast-tokenizer file. An optimum export writes it; for a ` +
        'model that ships only tokenizer.model, run `AutoTokenizer.from_pretrained(<model id>).save_pretrained(<folder>)` ' +
        'with Python transformers and copy tokenizer.json into the model folder.',
      tokenizerPath,
    );
  }
  const tokenizerJson = parseJson<object>(tokenizerPath, tokenizerText);

  const tokenizerConfigPath = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfigText = await readOptional(tokenizerConfigPath);
  const tokenizerConfig = tokenizerConfigText === undefined ? {} : parseJson<TokenizerConfig>(tokenizerConfigPath, tokenizerConfigText);

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
};
const AUTO_ORDER: Exclude<ModelVariant, 'auto'>[] = ['fp32', 'quantized', 'fp16'];

export async function readModelFolder(dir: string, variant: ModelVariant = 'auto'): Promise<ModelFolder> {
  await requireFolder(dir);
  const candidates = (variant === 'auto' ? AUTO_ORDER : [variant]).flatMap((v) =>
    VARIANT_FILES[v].flatMap((file) => [path.join(dir, file), path.join(dir, 'onnx', file)]),
  );
  let modelPath: string | undefined;
  for (const candidate of candidates) {
    if (await isFile(candidate)) {
      modelPath = candidate;
      break;
    }
  }
  if (!modelPath) {
    const what = variant === 'auto' || variant === 'fp32' ? 'No model.onnx' : `No ${variant} model`;
    throw new ModelFolderError(`${what} in ${dir} (looked for ${candidates.join(', ')}). ${EXPORT_HINT}`, candidates[0]);
  }
  return { ...(await readTokenizerFolder(dir)), modelPath };
}
