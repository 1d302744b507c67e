/**
 * The `config.json` fields the native architectures read, with transformers' defaults, and the
 * checks that turn a config the engine would misread into an error naming the field.
 */
import type { RopeScaling } from './rope';

/** config.json as transformers writes it; only the fields some architecture reads are named. */
export interface HfConfig {
  architectures?: string[];
  model_type?: string;
  vocab_size?: number;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  hidden_act?: string;
  hidden_activation?: string;
  rms_norm_eps?: number;
  layer_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: RopeScaling | null;
  max_position_embeddings?: number;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  sliding_window?: number | null;
  use_sliding_window?: boolean;
  max_window_layers?: number;
  query_pre_attn_scalar?: number;
  attn_logit_softcapping?: number | null;
  pad_token_id?: number | null;
  num_labels?: number;
  id2label?: Record<string, string>;
  // GPT-NeoX
  rotary_pct?: number;
  partial_rotary_factor?: number;
  rotary_emb_base?: number;
  use_parallel_residual?: boolean;
  // DeBERTa-v2
  relative_attention?: boolean;
  position_buckets?: number;
  max_relative_positions?: number;
  pos_att_type?: string[] | string;
  share_att_key?: boolean;
  norm_rel_ebd?: string;
  position_biased_input?: boolean;
  type_vocab_size?: number;
  embedding_size?: number;
  conv_kernel_size?: number;
  pooler_hidden_size?: number;
  pooler_hidden_act?: string;
  attention_head_size?: number;
  [key: string]: unknown;
}

/** Reads numeric fields, with an error naming the field when one the architecture needs is missing. */
export class ConfigReader {
  constructor(
    readonly config: HfConfig,
    readonly file: string,
  ) {}

  int(field: keyof HfConfig & string, fallback?: number): number {
    const value = this.config[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new Error(`${this.file}: "${field}" must be a positive integer (found ${JSON.stringify(this.config[field])})`);
    }
    return value;
  }

  number(field: keyof HfConfig & string, fallback?: number): number {
    const value = this.config[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${this.file}: "${field}" must be a number (found ${JSON.stringify(this.config[field])})`);
    return value;
  }

  /** Logits per item: a reward model has one; multi-label classifiers need a logit index later. */
  labels(): number {
    const fromMap = this.config.id2label ? Object.keys(this.config.id2label).length : undefined;
    return this.config.num_labels ?? fromMap ?? 1;
  }

  /** The pad id pooling uses, or undefined for `pad_token_id: null` (see layers.pooledPositions). */
  padTokenId(): number | undefined {
    const pad = this.config.pad_token_id;
    return typeof pad === 'number' ? pad : undefined;
  }
}
