/**
 * Reward models offered to a user who has none configured, by Hugging Face id: real, openly
 * downloadable transformers checkpoints whose architectures the engine builds natively (see
 * hf/architectures.ts). One is small enough for any CPU; the others want a GPU or a quantized
 * variant. The editor's *Choose Reward Model* and `plens` both show this list, so the choice and
 * the download it implies are the user's, with the size stated up front.
 */

export interface RecommendedModel {
  id: string;
  /** What it is, in a few words. */
  title: string;
  /** Approximate download (bf16 safetensors). */
  downloadGb: number;
  /** Where it runs well. */
  runsOn: string;
  /** What a reviewer should know about it. */
  note: string;
}

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  {
    id: 'Skywork/Skywork-Reward-V2-Qwen3-0.6B',
    title: 'Skywork Reward V2 (Qwen3, 0.6B)',
    downloadGb: 1.2,
    runsOn: 'any machine: about 2.4 GB of memory in fp32, less in int8',
    note: 'the smallest of the Skywork-Reward-V2 series, close to much larger reward models on RewardBench; uses its own chat template',
  },
  {
    id: 'Skywork/Skywork-Reward-V2-Llama-3.1-8B',
    title: 'Skywork Reward V2 (Llama 3.1, 8B)',
    downloadGb: 16,
    runsOn: 'a GPU, or int8 / int4 on a CPU with 16+ GB of memory (slow)',
    note: 'the strongest of the series on reward-model benchmarks',
  },
  {
    id: 'allenai/tulu-v2.5-13b-hh-rlhf-60k-rm',
    title: 'Tulu 2.5 HH-RLHF reward model (Llama 2, 13B)',
    downloadGb: 26,
    runsOn: 'a GPU, or int4 on a CPU with 24 GB of memory (slow)',
    note: "trained on 60k HH-RLHF pairs, in the Tulu format; on HH-RLHF's own training split it has seen the labels, so it understates disagreement there",
  },
];

/** The model to suggest first: the one that runs anywhere. */
export const DEFAULT_RECOMMENDATION = RECOMMENDED_MODELS[0];

/** One line per model, for a terminal. */
export function describeRecommendations(): string {
  return RECOMMENDED_MODELS.map((model) => `  --model ${model.id}   ${model.title}; ~${model.downloadGb} GB download; runs on ${model.runsOn}`).join('\n');
}
