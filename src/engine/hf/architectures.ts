/**
 * Which graph builder serves which `architectures[0]` of a config.json, and the inputs each graph
 * takes. An architecture not listed gets an error that names the supported ones.
 */
import { buildDebertaV2, debertaInputs } from './debertaV2';
import { buildDecoder, DECODER_INPUTS, type BuildContext } from './decoder';
import { buildGptNeox } from './gptNeox';
import type { ConfigReader } from './config';
import type { GraphIO } from './onnxGraph';

export interface Architecture {
  build(ctx: BuildContext): void;
  inputs(config: ConfigReader): GraphIO[];
  /** Reads a (prompt, response) text pair rather than one rendered conversation. */
  textPair: boolean;
}

const decoder = (family: Parameters<typeof buildDecoder>[1]): Architecture => ({ build: (ctx) => buildDecoder(ctx, family), inputs: () => DECODER_INPUTS, textPair: false });

export const ARCHITECTURES: Record<string, Architecture> = {
  LlamaForSequenceClassification: decoder('llama'),
  MistralForSequenceClassification: decoder('mistral'),
  Qwen2ForSequenceClassification: decoder('qwen2'),
  Qwen3ForSequenceClassification: decoder('qwen3'),
  Gemma2ForSequenceClassification: decoder('gemma2'),
  GPTNeoXForSequenceClassification: { build: buildGptNeox, inputs: () => DECODER_INPUTS, textPair: false },
  DebertaV2ForSequenceClassification: { build: buildDebertaV2, inputs: debertaInputs, textPair: true },
};

export function architectureOf(config: ConfigReader): { name: string; architecture: Architecture } {
  const names = config.config.architectures;
  const name = Array.isArray(names) ? names[0] : undefined;
  const architecture = name === undefined ? undefined : ARCHITECTURES[name];
  if (!name || !architecture) {
    const found = name ? `"${name}"` : 'no "architectures" entry';
    const hint = name && !name.endsWith('ForSequenceClassification') ? ' A reward model is a sequence classifier (…ForSequenceClassification) with one label.' : '';
    throw new Error(
      `${config.file} names ${found}; Preference Lens runs ${Object.keys(ARCHITECTURES).join(', ')}.${hint} ` +
        'Other models can be exported to ONNX with optimum, or served with vLLM / TEI and used as an endpoint.',
    );
  }
  return { name, architecture };
}
