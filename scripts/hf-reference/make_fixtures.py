#!/usr/bin/env python3
"""Test fixtures for native scoring of Hugging Face model folders: tiny sequence-classification models
saved by transformers' own save_pretrained, with the rewards transformers' own classes compute for them.

CI never runs this script; the tests only read its committed output in test/fixtures/hf-models/.
Setup and environment: README.md next to this file. Run (about a minute on 2 cores):

    HFREF_TRANSFORMERS=... HFREF_HUB=... [HFREF_TOOLS=...] /usr/bin/python3 scripts/hf-reference/make_fixtures.py [case ...]

Output: test/fixtures/hf-models/<case>/ (or $HFREF_FIXTURES_OUT/<case>/), each with
  config.json, model weights (safetensors), expected.json, reference_meta.json
  (+ expected.transformers-4.49.json for qwen2-sliding).
expected.json rows: {"input_ids", "reward", "mode"}; mode "single": the sequence run alone (batch of one,
attention mask all ones); mode "batch": all sequences of the case as ONE right-padded batch (config's pad
id, attention mask 1 on the tokens, 0 on the padding). Cases whose config has no pad id have single rows only.
Every reward is computed in float32 (eager attention, model.eval(), use_cache=False) from the folder as
loaded by AutoModelForSequenceClassification.from_pretrained(torch_dtype=float32); only Qwen3 runs through
the port in hfref.py (transformers 4.49 has no Qwen3), checked against transformers' Qwen2 first.
"""
import copy
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections import OrderedDict

sys.dont_write_bytecode = True  # no __pycache__ in the repository
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hfref  # noqa: E402

HFREF_TOOLS = hfref.setup_paths()

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification  # noqa: E402

Qwen3Config, Qwen3ForSequenceClassification = hfref.qwen3_classes()

OUT = os.environ.get("HFREF_FIXTURES_OUT") or os.path.join(hfref.REPO, "test", "fixtures", "hf-models")
SEED = 4049           # case k (0-based, in CASES order) uses model seed SEED + k; inputs seed SEED + 1000 + k
SCORE_STD = 0.2       # score / classifier head weights
NORM_JITTER = 0.1     # norm weights 1 + 0.1*N(0,1) (Gemma: 0.1*N, applied as 1 + w)
BIAS_STD = 0.02       # every bias (transformers' init leaves them 0)
BATCH_TOL = 1e-5
MIN_SPREAD = 0.1
MIN_EFFECT = 1e-3     # an ablation of the exercised feature must move some reward by more than this
VOCAB = 512           # ids 3..511 at random; pad 0, bos 1, eos 2

COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=512, num_labels=1, pad_token_id=0, bos_token_id=1, eos_token_id=2,
              initializer_range=0.1, tie_word_embeddings=False)
# initializer_range 0.1 (transformers' default is 0.02): with 0.02 the attention logits of such small models
# stay near 0, attention is almost uniform and a wrong rotary embedding moves rewards by only ~1e-3.
LLAMA = dict(COMMON, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu")

GENERAL = [1, 3, 5, 8, 13, 21, 34, 55, 89, 120, 150, 180]
ROPE = [2, 5, 9, 17, 30, 50, 64, 80, 100, 130, 170, 200]
WINDOW = [3, 6, 8, 9, 12, 16, 17, 25, 33, 44, 52, 60]   # window 8: below, at, just past, far past
BUCKETS = [2, 3, 4, 5, 6, 9, 12, 17, 24, 33, 47, 60]

CASES = OrderedDict()   # do not reorder: seeds follow the order


def case(name, cls, cfg, kw, lengths, exercises, seqs="general", dtype="float32", shards=1, ablations=(),
         notes=()):
    CASES[name] = dict(cls=cls, cfg=cfg, kw=kw, lengths=lengths, exercises=exercises, seqs=seqs, dtype=dtype,
                       shards=shards, ablations=list(ablations), notes=list(notes))


case("qwen3", "Qwen3ForSequenceClassification", "Qwen3Config",
     dict(COMMON, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6, rope_theta=1000000.0, hidden_act="silu",
          attention_bias=False, use_sliding_window=False, sliding_window=None, max_window_layers=2),
     GENERAL,
     "Qwen3: per-head RMSNorm (weight [head_dim]) on q and k after the projections, before rotary; head_dim 16 "
     "from the config while hidden/heads = 8 (q_proj 32->64, o_proj 64->32); GQA 4:2; no attention biases; "
     "rope_theta 1e6; sliding window off (sliding_window null, use_sliding_window false, as released Qwen3 "
     "configs)",
     ablations=[("q_norm/k_norm replaced by identity", "qk_identity")])

case("llama-rope-llama3", "LlamaForSequenceClassification", "LlamaConfig",
     dict(LLAMA, hidden_size=48, intermediate_size=96, rope_theta=500000.0, max_position_embeddings=8192,
          rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=1024)),
     ROPE,
     "Llama-3.1 rope scaling (factor 8, low 1, high 4, original_max_position_embeddings 1024) with head_dim 12 "
     "(6 frequencies) and theta 5e5: wavelengths 6.3 and 56 stay (< 256), 499 is interpolated (smooth 0.35), "
     "4443 and up are divided by 8; GQA 4:2",
     ablations=[("rope_scaling removed (plain rope)", dict(rope_scaling=None))])

case("llama-rope-linear", "LlamaForSequenceClassification", "LlamaConfig",
     dict(LLAMA, rope_scaling=dict(rope_type="linear", factor=2.0)),
     ROPE,
     "linear rope scaling factor 2 (every inverse frequency / 2, i.e. positions halved); GQA 4:2",
     ablations=[("rope_scaling removed (plain rope)", dict(rope_scaling=None))])

case("mistral-sliding", "MistralForSequenceClassification", "MistralConfig",
     dict(LLAMA, sliding_window=8),
     WINDOW,
     "sliding window 8 reached (sequences up to 60): key j is masked for query i when j <= i - 8, i.e. each "
     "token attends to itself and the 7 before it; in every layer; batch rows padded on the right",
     ablations=[("sliding_window removed", dict(sliding_window=None))])

case("qwen2-sliding", "Qwen2ForSequenceClassification", "Qwen2Config",
     dict(COMMON, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu",
          num_hidden_layers=3, use_sliding_window=True, sliding_window=8, max_window_layers=1),
     WINDOW,
     "Qwen2 with use_sliding_window true, sliding_window 8, max_window_layers 1, 3 layers: layer 0 full "
     "causal attention, layers 1 and 2 sliding (the config's meaning, as transformers >= 4.53 computes it); "
     "q/k/v biases",
     ablations=[("no sliding window anywhere", dict(sliding_window=None))])

case("gemma2-sliding", "Gemma2ForSequenceClassification", "Gemma2Config",
     dict(COMMON, num_hidden_layers=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24,
          hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6, rope_theta=10000.0,
          attn_logit_softcapping=5.0, final_logit_softcapping=30.0, sliding_window=8,
          initializer_range=0.2),
     WINDOW,
     "Gemma2, 4 layers: layers 0 and 2 slide (window 8, key j masked when j <= i - 8), 1 and 3 are global; "
     "attention logits soft-capped (cap*tanh(x/cap), cap 5, applied after the scaling and before the mask); "
     "attention scale query_pre_attn_scalar**-0.5 = 24**-0.5 while head_dim 16; head_dim*heads 64 != hidden "
     "32; (1+w) RMSNorms, pre/post norms, GELU-tanh, embeddings times sqrt(32); final_logit_softcapping 30 in "
     "the config is NOT applied by the classifier",
     ablations=[("sliding_window 4096 (never reached)", dict(sliding_window=4096)),
                ("attn_logit_softcapping removed", dict(attn_logit_softcapping=None)),
                ("query_pre_attn_scalar = head_dim", dict(query_pre_attn_scalar=16)),
                ("final_logit_softcapping removed (must change nothing)", dict(final_logit_softcapping=None))],
     notes=["initializer_range 0.2 so attention logits get large enough for the soft cap of 5 to matter"])

case("llama-pad-null", "LlamaForSequenceClassification", "LlamaConfig",
     dict(LLAMA, pad_token_id=None),
     [1, 2, 3, 5, 8, 13, 21, 34, 55, 89],
     "pad_token_id null (like allenai/tulu-v2.5-13b-hh-rlhf-60k-rm): the reward is read at the LAST token "
     "(an eos 2 included); transformers refuses batches > 1, so single rows only; one row holds id 0, "
     "an ordinary token here (the embedding has no padding row)",
     seqs="pad_null")

case("llama-pad-eos", "LlamaForSequenceClassification", "LlamaConfig",
     dict(LLAMA, pad_token_id=2),
     [3, 4, 6, 9, 12, 17, 23, 30, 38, 47, 55, 64],
     "pad_token_id 2 = eos: the reward is read at the rightmost token whose id is not 2 (transformers >= "
     "4.45), so trailing 2s are skipped while 2s inside the text stay attended; ids 2 occur in the middle, "
     "at the end and as a run of two at the end; batch rows padded with 2 on the right",
     seqs="pad_eos")

case("gpt-neox-sequential", "GPTNeoXForSequenceClassification", "GPTNeoXConfig",
     dict(COMMON, rotary_pct=1.0, rotary_emb_base=10000, layer_norm_eps=1e-5, use_parallel_residual=False,
          attention_bias=True, hidden_act="gelu"),
     GENERAL,
     "GPT-NeoX with use_parallel_residual false (x = x + attn(ln1(x)); x = x + mlp(ln2(x))) and rotary_pct "
     "1.0 (rotary over the whole head_dim 8); LayerNorm with biases; fused query_key_value with bias",
     ablations=[("use_parallel_residual true", dict(use_parallel_residual=True))])

case("deberta-v2-buckets", "DebertaV2ForSequenceClassification", "DebertaV2Config",
     dict(COMMON, hidden_act="gelu", type_vocab_size=0, relative_attention=True, pos_att_type=["p2c", "c2p"],
          position_biased_input=False, max_relative_positions=16, position_buckets=8, norm_rel_ebd="layer_norm",
          share_att_key=True, layer_norm_eps=1e-7, pooler_hidden_size=32, pooler_hidden_act="gelu",
          pooler_dropout=0.0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.1),
     BUCKETS,
     "DeBERTa-v3-style relative attention (c2p + p2c, shared keys, no absolute positions, type_vocab_size 0) "
     "with position_buckets 8 and max_relative_positions 16: |i-j| <= 4 keeps its own bucket, larger "
     "distances go through make_log_bucket_position's log branch and the attention span 8 clamps them; "
     "sequences up to 60; pooler on token 0 + classifier",
     ablations=[("max_relative_positions 64 (other log buckets, same weights)", dict(max_relative_positions=64))],
     notes=["initializer_range 0.1 as everywhere here; for this post-LN encoder 0.02 would also give nearly "
            "text-independent rewards"])

case("llama-bf16-sharded", "LlamaForSequenceClassification", "LlamaConfig",
     dict(LLAMA), GENERAL,
     "bfloat16 weights split by save_pretrained(max_shard_size) into model-00001-of-00002.safetensors and "
     "model-00002-of-00002.safetensors with model.safetensors.index.json; rewards computed in float32 "
     "from the bf16 values",
     dtype="bfloat16", shards=2, ablations=[("float32 weights before bf16 rounding", "unrounded")])

case("qwen2-fp16", "Qwen2ForSequenceClassification", "Qwen2Config",
     dict(COMMON, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu",
          use_sliding_window=False), GENERAL,
     "float16 weights (config torch_dtype float16), rewards computed in float32 from the fp16 values; "
     "Qwen2 q/k/v biases; sliding_window 4096 with use_sliding_window false (never reached here)",
     dtype="float16", ablations=[("float32 weights before fp16 rounding", "unrounded")])

case("llama-bias", "LlamaForSequenceClassification", "LlamaConfig",
     dict(LLAMA, attention_bias=True, mlp_bias=True), GENERAL,
     "Llama with attention_bias true (q, k, v AND o_proj biases) and mlp_bias true (gate, up, down biases)",
     ablations=[("every bias zeroed", "zero_bias")])

for _name, _spec in CASES.items():   # every rotary case: show that the fixture sees a wrong rotary embedding
    if _spec["cls"].startswith("GPTNeoX"):
        # from_pretrained(**overrides) only sets attributes after __init__, and 4.49 rotary code reads
        # config.rope_theta (which __init__ copies from rotary_emb_base): override both
        _b = _spec["kw"]["rotary_emb_base"] * 4
        _spec["ablations"].append(("rotary_emb_base x 4 (rotary sensitivity)", dict(rotary_emb_base=_b, rope_theta=_b)))
    elif "rope_theta" in _spec["kw"]:
        _spec["ablations"].append(("rope_theta x 4 (rotary sensitivity)", dict(rope_theta=_spec["kw"]["rope_theta"] * 4)))

# What transformers 4.49 does for each case, with file:line in src/transformers at TRANSFORMERS_COMMIT.
QUIRKS = {
    "qwen3": [
        "no Qwen3 in 4.49 (added in v4.51 by #36878); port in hfref.py checked against 4.49's Qwen2 (see "
        "qwen3_port_checks)",
        "upstream modeling_qwen3.py: q_norm/k_norm = Qwen3RMSNorm(head_dim) applied to q_proj(x).view(..., -1, "
        "head_dim) before transpose and rotary; o_proj has bias=attention_bias (Qwen2's o_proj never has one)",
    ],
    "llama-rope-llama3": [
        "modeling_rope_utils.py:305-345 _compute_llama3_parameters, float32: wavelen = 2*pi/inv_freq; wavelen > "
        "orig/low_freq_factor -> inv_freq/factor; wavelen < orig/high_freq_factor -> unchanged; otherwise "
        "(1-s)*inv_freq/factor + s*inv_freq with s = (orig/wavelen - low)/(high - low); attention_scaling 1.0",
    ],
    "llama-rope-linear": [
        "modeling_rope_utils.py:108 (_compute_linear_scaling_rope_parameters): inv_freq /= factor",
    ],
    "mistral-sliding": [
        "models/mistral/modeling_mistral.py:725-732: the eager/sdpa 4D mask masks key j for query i when "
        "j <= i - sliding_window (each query sees the window's W keys, itself included), the same for every "
        "layer; newer transformers agree (masking_utils.sliding_window_overlay: kv_idx > q_idx - sliding_window)",
        "modeling_mistral.py:192 passes sliding_window= to the attention function, read only by flash attention",
    ],
    "qwen2-sliding": [
        "see qwen2_sliding.finding: 4.49 eager slides EVERY layer whenever config.sliding_window is set "
        "(models/qwen2/modeling_qwen2.py:738-745), ignoring use_sliding_window and max_window_layers "
        "(lines 174-180 only feed flash attention); newer transformers (>= 4.53, PR #37866) slide only layers "
        ">= max_window_layers and only when use_sliding_window; expected.json follows the newer reading",
    ],
    "gemma2-sliding": [
        "models/gemma2/modeling_gemma2.py:271 is_sliding = not bool(layer_idx % 2): layers 0, 2 slide, 1, 3 are "
        "global (newer transformers: layer_types sliding when (i + 1) % 2, the same layers)",
        "modeling_gemma2.py:294-314: the sliding layers cut the window out of the 4D mask with torch.tril(ones, "
        "diagonal=-sliding_window): key j masked when j <= i - W, as Mistral",
        "modeling_gemma2.py:158-166: soft cap cap*tanh(logits/cap) on the SCALED logits, before the mask is added",
        "modeling_gemma2.py:185: scaling = query_pre_attn_scalar**-0.5 (not head_dim**-0.5)",
        "modeling_gemma2.py:642-643: embeddings times sqrt(hidden_size) as a tensor of the hidden dtype",
        "modeling_gemma2.py:905-908: final_logit_softcapping is applied only by Gemma2ForCausalLM; the "
        "classifier ignores it (ablation: exactly 0 change)",
        "torch 1.13: call with use_cache=False: with the default use_cache=True Gemma2Model builds a HybridCache, "
        "whose __init__ calls torch._dynamo.mark_static_address (cache_utils.py) -> AttributeError on torch 1.13",
    ],
    "llama-pad-null": [
        "models/llama/modeling_llama.py:950-953: pad_token_id None -> the reward is logits[:, -1] (the last "
        "token, eos included) and batches > 1 raise ValueError('Cannot handle batch sizes > 1 if no padding "
        "token is defined.')",
    ],
    "llama-pad-eos": [
        "models/llama/modeling_llama.py:954-958: index = argmax(arange(T) * (input_ids != pad_token_id)): the "
        "rightmost position whose id is not the pad id, from the ids alone (attention_mask is not looked at); "
        "trailing eos (= pad) tokens are skipped but still attended in single mode; a row made only of pad ids "
        "would give index 0",
        "transformers 4.3x-4.44 used (first pad position - 1) mod length instead; pooling[].pooled_index_"
        "transformers_le_4_44 and reward_transformers_le_4_44 show what that rule reads (not in expected.json)",
    ],
    "gpt-neox-sequential": [
        "models/gpt_neox/modeling_gpt_neox.py:261-274: use_parallel_residual false -> x = x + attn(ln1(x)); "
        "x = x + mlp(ln2(x))",
        "models/gpt_neox/configuration_gpt_neox.py:172-183: __init__ sets partial_rotary_factor = rotary_pct and "
        "rope_theta = rotary_emb_base AFTER the generic kwargs, so in a config.json holding both pairs the "
        "rotary_* keys win; modeling_gpt_neox.py:142 rotary_ndims = int(head_size * rotary_pct)",
    ],
    "deberta-v2-buckets": [
        "models/deberta_v2/modeling_deberta_v2.py:63-75 make_log_bucket_position: mid = buckets//2; |r| <= mid "
        "keeps r; otherwise sign(r) * (ceil(log(|r|/mid) / log((max_relative_positions-1)/mid) * (mid-1)) + mid), "
        "in float32; relative_position_buckets lists the result for every r in this case",
        "modeling_deberta_v2.py:181-183, 302-305, 328, 346: the attention span is position_buckets; c2p index "
        "clamp(bucket + span, 0, 2*span-1), p2c index clamp(-bucket + span, 0, 2*span-1)",
        "modeling_deberta_v2.py:128-131: scores divided by sqrt(head_dim * (1 + len(pos_att_type))) = sqrt(8*3)",
        "modeling_deberta_v2.py:340-346 calls build_rpos(..., max_relative_positions, position_buckets) with the "
        "two last arguments swapped against its signature (line 134); harmless here: it only matters when "
        "query and key lengths differ, never in self-attention",
    ],
    "llama-bf16-sharded": [
        "from_pretrained(torch_dtype=float32) reads both shards through model.safetensors.index.json and "
        "upcasts every bf16 value exactly (checked: loaded weights equal the saved ones)",
    ],
    "qwen2-fp16": [
        "from_pretrained(torch_dtype=float32) upcasts every fp16 value exactly (checked); sliding_window 4096 "
        "is set in config.json but use_sliding_window is false: 4.49 eager would still mask at 4096 tokens, "
        "newer transformers never; irrelevant at these lengths",
    ],
    "llama-bias": [
        "models/llama/modeling_llama.py:184-186 mlp_bias on gate/up/down_proj; 245-256 attention_bias on q, k, v "
        "AND o_proj; the score head never has a bias (line 898)",
    ],
}
assert set(QUIRKS) == set(CASES)

CASE_SEED = {c: SEED + i for i, c in enumerate(CASES)}
INPUT_SEED = {c: SEED + 1000 + i for i, c in enumerate(CASES)}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------- inputs
def make_sequences(name):
    spec = CASES[name]
    rng = np.random.RandomState(INPUT_SEED[name])
    seqs = []
    for i, n in enumerate(spec["lengths"]):
        ids = [int(x) for x in rng.randint(3, VOCAB, size=n)]
        kind = spec["seqs"]
        if kind in ("general", "pad_null"):
            if i % 2 == 0 and n > 1:
                ids[0] = 1          # half start with bos
            if i % 3 == 2:
                ids[-1] = 2         # some end with eos
        elif kind == "pad_eos":
            if i % 2 == 0:
                ids[0] = 1
            if i % 4 in (0, 1):
                ids[len(ids) // 2] = 2          # a 2 inside the text (attended, not skipped)
            if i % 3 == 2:
                ids[-1] = 2                     # ends with eos = pad: pooled one token earlier
            if i % 4 == 3:
                ids[-2:] = [2, 2]               # a run of two: pooled two tokens earlier
            if i == 11:
                ids[1] = 2
                ids[len(ids) // 3] = 2
                ids[-1] = 2
        seqs.append(ids)
    longest = max(range(len(seqs)), key=lambda k: len(seqs[k]))
    seqs[longest][len(seqs[longest]) // 2 + 1] = VOCAB - 1     # the last embedding row is used
    if spec["seqs"] == "pad_null":
        seqs[-1][5] = 0      # id 0 is an ordinary token when the config has no pad id
    pad = spec["kw"].get("pad_token_id", 0)
    for s in seqs:
        if spec["seqs"] != "pad_null":
            assert 0 not in s
        if pad is not None:
            assert any(t != pad for t in s), "a sequence made only of pad ids"
    return seqs


# ------------------------------------------------------------------------------------------ model
def init_weights(model, seed):
    """transformers' _init_weights already ran (normal std=initializer_range, pad row zeroed, biases 0,
    norms 1). Make the rest non-trivial, as ../shared/tools/hf-reference/make_ref.py does."""
    g = torch.Generator().manual_seed(seed + 100000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            mod_name, _, pname = name.rpartition(".")
            mod = model.get_submodule(mod_name)
            cls = type(mod).__name__
            if "Norm" in cls or isinstance(mod, torch.nn.LayerNorm):
                if pname == "weight":
                    base = 0.0 if cls.startswith("Gemma") else 1.0
                    p.copy_(base + NORM_JITTER * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(BIAS_STD * torch.randn(p.shape, generator=g))
            elif mod_name in ("score", "classifier"):
                if pname == "weight":
                    p.copy_(SCORE_STD * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(BIAS_STD * torch.randn(p.shape, generator=g))
            elif pname == "bias":
                p.copy_(BIAS_STD * torch.randn(p.shape, generator=g))


def config_class(name):
    return Qwen3Config if name == "Qwen3Config" else getattr(transformers, name)


def model_class(name):
    return Qwen3ForSequenceClassification if name == "Qwen3ForSequenceClassification" \
        else getattr(transformers, name)


def build_model(name):
    spec = CASES[name]
    cfg = config_class(spec["cfg"])(**copy.deepcopy(spec["kw"]))
    cfg._attn_implementation = "eager"
    torch.manual_seed(CASE_SEED[name])
    model = model_class(spec["cls"])(cfg)
    init_weights(model, CASE_SEED[name])
    return model.to(torch.float32).eval()


def load(d, **overrides):
    m = AutoModelForSequenceClassification.from_pretrained(d, attn_implementation="eager",
                                                           torch_dtype=torch.float32, **overrides)
    return m.eval()


def _call(model, x, m):
    kw = dict(input_ids=x, attention_mask=m)
    if hasattr(model.config, "use_cache"):
        kw["use_cache"] = False
    with torch.inference_mode():
        return model(**kw).logits


def score_single(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    out = _call(model, x, torch.ones_like(x))
    assert out.shape == (1, 1), out.shape
    return float(out[0, 0])


def score_batch(model, seqs, pad_id):
    L = max(len(s) for s in seqs)
    x = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    m = torch.zeros((len(seqs), L), dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.tensor(s)
        m[i, :len(s)] = 1
    out = _call(model, x, m)
    assert out.shape == (len(seqs), 1), out.shape
    return [float(v) for v in out[:, 0]]


def compute(model, seqs, pad_id):
    singles = [score_single(model, s) for s in seqs]
    rows = [dict(input_ids=s, reward=r, mode="single") for s, r in zip(seqs, singles)]
    checks = {}
    if pad_id is not None:
        batch = score_batch(model, seqs, pad_id)
        rows += [dict(input_ids=s, reward=r, mode="batch") for s, r in zip(seqs, batch)]
        checks["batch_vs_single_max_abs"] = max(abs(a - b) for a, b in zip(singles, batch))
    else:
        try:
            score_batch(model, seqs[:2], 0)
            checks["batch_refused"] = False
        except ValueError as e:
            checks["batch_refused"] = True
            checks["batch_refused_message"] = str(e)
    checks["spread"] = max(singles) - min(singles)
    checks["min_abs_pairwise_diff"] = min(abs(a - b) for i, a in enumerate(singles) for b in singles[i + 1:])
    checks["n_distinct_6dp"] = len({round(v, 6) for v in singles})
    checks["n_sequences"] = len(singles)
    return rows, singles, checks


def ok_checks(checks):
    ok = dict(spread_gt_0_1=checks["spread"] > MIN_SPREAD,
              all_distinct=checks["n_distinct_6dp"] == checks["n_sequences"])
    if "batch_vs_single_max_abs" in checks:
        ok["batch_eq_single_1e-5"] = checks["batch_vs_single_max_abs"] <= BATCH_TOL
    else:
        ok["batch_refused_by_transformers"] = checks["batch_refused"]
    return ok


# ------------------------------------------------------------------------------ Qwen3 port checks
def qwen3_port_checks(d, seqs):
    """1) with q_norm/k_norm replaced by identity the port must equal transformers' own
    Qwen2ForSequenceClassification (same head_dim 16, its q/k/v biases zero) loaded with the same weights;
    2) the port must equal a plain-torch float64 forward written from modeling_qwen3.py independently."""
    port = load(d)
    cfg = port.config
    for layer in port.model.layers:
        layer.self_attn.q_norm = torch.nn.Identity()
        layer.self_attn.k_norm = torch.nn.Identity()
    kw = {k: v for k, v in cfg.to_dict().items() if k not in ("model_type", "architectures", "attention_bias",
                                                               "transformers_version", "torch_dtype")}
    q2cfg = transformers.Qwen2Config(**kw)
    q2cfg._attn_implementation = "eager"
    assert q2cfg.head_dim == 16 and q2cfg.hidden_size // q2cfg.num_attention_heads == 8
    q2 = transformers.Qwen2ForSequenceClassification(q2cfg).eval()
    sd = {k: v for k, v in port.state_dict().items()}
    with torch.no_grad():
        missing, unexpected = q2.load_state_dict(sd, strict=False)
        assert not unexpected, unexpected
        assert sorted(missing) == sorted(f"model.layers.{i}.self_attn.{p}_proj.bias" for i in
                                         range(cfg.num_hidden_layers) for p in "qkv"), missing
        for k in missing:
            q2.get_parameter(k).zero_()
    a = [score_single(port, s) for s in seqs]
    b = [score_single(q2, s) for s in seqs]
    b_batch = score_batch(q2, seqs, cfg.pad_token_id)
    a_batch = score_batch(port, seqs, cfg.pad_token_id)
    vs_qwen2 = max(abs(x - y) for x, y in zip(a + a_batch, b + b_batch))

    full = load(d)
    sd = {k: v.to(torch.float64) for k, v in full.state_dict().items()}
    manual = [qwen3_manual_forward(sd, full.config, s) for s in seqs]
    ported = [score_single(full, s) for s in seqs]
    vs_manual = max(abs(x - y) for x, y in zip(manual, ported))
    return dict(
        identity_qk_norm_port_vs_transformers_qwen2_max_abs=vs_qwen2,
        identity_qk_norm_port_vs_transformers_qwen2_ok=vs_qwen2 <= 1e-6,
        port_vs_plain_torch_float64_forward_max_abs=vs_manual,
        port_vs_plain_torch_float64_forward_ok=vs_manual <= 1e-5,
        how="(1) the fixture's weights in the port with q_norm/k_norm replaced by nn.Identity vs transformers "
            "4.49 Qwen2ForSequenceClassification(head_dim=16) with its q/k/v biases set to 0, single and batch "
            "rows; (2) the full port vs qwen3_manual_forward() in make_fixtures.py (float64, written from "
            f"upstream modeling_qwen3.py at {hfref.QWEN3_UPSTREAM_COMMIT})",
    )


def qwen3_manual_forward(sd, c, ids):
    """Plain torch, float64, one sequence, no padding: Qwen3 as upstream modeling_qwen3.py describes it."""
    T, hd, nh, nkv, eps = len(ids), c.head_dim, c.num_attention_heads, c.num_key_value_heads, c.rms_norm_eps

    def rms(v, w):
        return w * (v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + eps))

    inv = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

    def rope(v):  # [heads, T, hd]
        return v * cos + torch.cat([-v[..., hd // 2:], v[..., :hd // 2]], -1) * sin

    causal = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    x = sd["model.embed_tokens.weight"][torch.tensor(ids)]
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        h = rms(x, sd[p + "input_layernorm.weight"])
        q = (h @ sd[p + "self_attn.q_proj.weight"].T).view(T, nh, hd)
        k = (h @ sd[p + "self_attn.k_proj.weight"].T).view(T, nkv, hd)
        v = (h @ sd[p + "self_attn.v_proj.weight"].T).view(T, nkv, hd).transpose(0, 1)
        q = rope(rms(q, sd[p + "self_attn.q_norm.weight"]).transpose(0, 1))
        k = rope(rms(k, sd[p + "self_attn.k_norm.weight"]).transpose(0, 1))
        k, v = k.repeat_interleave(nh // nkv, 0), v.repeat_interleave(nh // nkv, 0)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + causal, -1) @ v
        x = x + att.transpose(0, 1).reshape(T, nh * hd) @ sd[p + "self_attn.o_proj.weight"].T
        h = rms(x, sd[p + "post_attention_layernorm.weight"])
        gate = h @ sd[p + "mlp.gate_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * (h @ sd[p + "mlp.up_proj.weight"].T)) @ \
            sd[p + "mlp.down_proj.weight"].T
    x = rms(x, sd["model.norm.weight"])
    return float(x[-1] @ sd["score.weight"][0])


# ------------------------------------------------------------------------------------- ablations
def run_ablation(name, d, seqs, how, ref_singles, fp32_model):
    if isinstance(how, dict):
        m = load(d, **copy.deepcopy(how))
        if CASES[name]["cls"].startswith("Qwen"):
            hfref.apply_qwen2_config_windows(m)
    elif how == "qk_identity":
        m = load(d)
        for layer in m.model.layers:
            layer.self_attn.q_norm = torch.nn.Identity()
            layer.self_attn.k_norm = torch.nn.Identity()
    elif how == "zero_bias":
        m = load(d)
        with torch.no_grad():
            for n, p in m.named_parameters():
                if n.endswith(".bias"):
                    p.zero_()
    elif how == "unrounded":
        m = fp32_model
    else:
        raise ValueError(how)
    vals = [score_single(m, s) for s in seqs]
    deltas = [abs(a - b) for a, b in zip(vals, ref_singles)]
    return dict(max_abs_reward_change=max(deltas), per_sequence_abs_change=deltas)


# ---------------------------------------------------------------------------------------- extras
def rope_info(model):
    inv = model.model.rotary_emb.inv_freq.detach().clone()
    cfg = model.config
    base = copy.deepcopy(cfg)
    base.rope_scaling = None
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    inv0, _ = ROPE_INIT_FUNCTIONS["default"](base, "cpu")
    return dict(inv_freq=[float(v) for v in inv], default_inv_freq=[float(v) for v in inv0],
                wavelengths_default=[float(2 * math.pi / v) for v in inv0],
                attention_scaling=float(model.model.rotary_emb.attention_scaling))


def deberta_bucket_info(model, max_len):
    from transformers.models.deberta_v2.modeling_deberta_v2 import make_log_bucket_position
    cfg = model.config
    rel = torch.arange(-(max_len - 1), max_len)
    b = make_log_bucket_position(rel, cfg.position_buckets, cfg.max_relative_positions).to(torch.long)
    span = cfg.position_buckets
    c2p = torch.clamp(b + span, 0, 2 * span - 1)
    return dict(
        note="relative position r = i_query - j_key; bucket = make_log_bucket_position(r, position_buckets, "
             "max_relative_positions) (modeling_deberta_v2.py:63-75, float32 log, ceil); c2p index = "
             "clamp(bucket + span, 0, 2*span - 1), span = position_buckets (modeling_deberta_v2.py:302-328); "
             "p2c uses clamp(-bucket + span, ...)",
        relative_positions=[int(v) for v in rel], buckets=[int(v) for v in b], c2p_index=[int(v) for v in c2p],
        log_branch_used=bool((rel.abs() > cfg.position_buckets // 2).any()),
        clamped=bool(((b + span) > 2 * span - 1).any() or ((b + span) < 0).any()),
    )


def pooling_info(model, seqs):
    """For pad = eos: where transformers >= 4.45 reads the reward, and what <= 4.44's rule
    ((first pad position - 1) mod length) would read, with that reward (from transformers' own modules)."""
    pad = model.config.pad_token_id
    out = []
    for s in seqs:
        x = torch.tensor([s])
        with torch.inference_mode():
            hs = model.model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).last_hidden_state
            per_pos = model.score(hs)[0, :, 0]
        new = max(i for i, t in enumerate(s) if t != pad)
        old = ((s.index(pad) if pad in s else 0) - 1) % len(s)
        out.append(dict(pooled_index=new, pooled_index_transformers_le_4_44=old,
                        reward_transformers_le_4_44=float(per_pos[old]),
                        reward_at_pooled_index=float(per_pos[new])))
    return out


# ------------------------------------------------------------------------------------------ main
def make_case(name):
    spec = CASES[name]
    t0 = time.time()
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    seqs = make_sequences(name)
    model = build_model(name)
    dtype = getattr(torch, spec["dtype"])
    fp32_model = copy.deepcopy(model)
    to_save = model.to(dtype)
    save_kw = dict(safe_serialization=True)
    if spec["shards"] > 1:
        total = sum(p.numel() * p.element_size() for p in to_save.state_dict().values())
        save_kw["max_shard_size"] = int(total * 0.6)
    to_save.save_pretrained(d, **save_kw)
    weight_files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
    if spec["shards"] > 1:
        want = [f"model-{i:05d}-of-{spec['shards']:05d}.safetensors" for i in range(1, spec["shards"] + 1)]
        assert weight_files == want, weight_files
        assert os.path.exists(f"{d}/model.safetensors.index.json")
    else:
        assert weight_files == ["model.safetensors"], weight_files

    # the reference: the folder as transformers loads it, computed in float32
    ref = load(d)
    assert type(ref).__name__ == spec["cls"], type(ref)
    for k, v in to_save.state_dict().items():
        assert torch.equal(ref.state_dict()[k], v.to(torch.float32)), k
    if spec["dtype"] != "float32":
        with open(f"{d}/config.json") as f:
            assert json.load(f)["torch_dtype"] == spec["dtype"]

    meta_extra = {}
    pad_id = ref.config.pad_token_id
    if name == "qwen2-sliding":
        rows49, singles49, checks49 = compute(ref, seqs, pad_id)      # 4.49 as it is: every layer slides
        types = hfref.apply_qwen2_config_windows(ref)
        assert types == ["full_attention", "sliding_attention", "sliding_attention"], types
        meta_extra["qwen2_sliding"] = qwen2_sliding_checks(d, seqs, singles49)
        meta_extra["qwen2_sliding"]["checks_expected_transformers_4_49"] = dict(checks=checks49,
                                                                               ok=ok_checks(checks49))
        with open(f"{d}/expected.transformers-4.49.json", "w") as f:
            json.dump(rows49, f)
    rows, singles, checks = compute(ref, seqs, pad_id)
    ok = ok_checks(checks)

    if name == "qwen3":
        meta_extra["qwen3_port_checks"] = qwen3_port_checks(d, seqs)
        ok["port_vs_qwen2"] = meta_extra["qwen3_port_checks"]["identity_qk_norm_port_vs_transformers_qwen2_ok"]
        ok["port_vs_plain_torch"] = meta_extra["qwen3_port_checks"]["port_vs_plain_torch_float64_forward_ok"]
    if name == "qwen2-sliding":
        for k, v in meta_extra["qwen2_sliding"].items():
            if k.endswith("_ok"):
                ok[k] = v
        d49 = meta_extra["qwen2_sliding"]["expected_vs_transformers_4_49_max_abs"]
        ok["differs_from_4_49"] = d49 > MIN_EFFECT

    ablations = {}
    for label, how in spec["ablations"]:
        r = run_ablation(name, d, seqs, how, singles, fp32_model)
        ablations[label] = r
        if "must change nothing" in label:
            ok[f"no effect: {label}"] = r["max_abs_reward_change"] == 0.0
        elif how != "unrounded":
            ok[f"exercised: {label}"] = r["max_abs_reward_change"] > MIN_EFFECT

    if name.startswith("llama-rope"):
        meta_extra["rope"] = rope_info(ref)
    if name == "deberta-v2-buckets":
        meta_extra["relative_position_buckets"] = deberta_bucket_info(ref, max(len(s) for s in seqs))
        ok["log_bucket_branch_used"] = meta_extra["relative_position_buckets"]["log_branch_used"]
        ok["span_clamp_used"] = meta_extra["relative_position_buckets"]["clamped"]
    if name == "llama-pad-eos":
        meta_extra["pooling"] = pooling_info(ref, seqs)
        for p, r in zip(meta_extra["pooling"], singles):
            assert abs(p["reward_at_pooled_index"] - r) <= 1e-6
        ok["trailing_eos_skipped_somewhere"] = any(p["pooled_index"] < len(s) - 1
                                                   for p, s in zip(meta_extra["pooling"], seqs))
    if name in ("mistral-sliding", "gemma2-sliding", "qwen2-sliding", "deberta-v2-buckets"):
        ok["longest_sequence_ge_60"] = max(len(s) for s in seqs) >= 60

    with open(f"{d}/expected.json", "w") as f:
        json.dump(rows, f)

    meta = OrderedDict(
        case=name,
        architecture=spec["cls"],
        exercises=spec["exercises"],
        notes=spec["notes"],
        transformers_quirks=QUIRKS[name],
        transformers_version=transformers.__version__,
        transformers_commit=hfref.TRANSFORMERS_COMMIT,
        transformers_note=hfref.TRANSFORMERS_NOTE,
        torch_version=torch.__version__,
        attn_implementation="eager",
        compute_dtype="float32",
        weights_dtype=spec["dtype"],
        seed=CASE_SEED[name],
        inputs_seed=INPUT_SEED[name],
        init="transformers' _init_weights (normal std initializer_range, padding row 0) under torch.manual_seed("
             "seed), then: norm weights 1+0.1*N (Gemma: 0.1*N, applied as 1+w), every bias 0.02*N, "
             "score/classifier weight 0.2*N (generator seed+100000)",
        initializer_range=spec["kw"].get("initializer_range"),
        pad_token_id=pad_id,
        expected_json="rows {input_ids, reward, mode}: mode single = the sequence alone (attention mask all 1); "
                      + ("mode batch = all sequences as one right-padded batch, pad id %d, attention mask 1/0"
                         % pad_id if pad_id is not None else "no batch rows: the config has no pad id"),
        how="AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation='eager', "
            "torch_dtype=torch.float32).eval(), use_cache=False, torch.inference_mode()",
        checks=dict(values=checks, ok=ok),
        ablations=ablations,
        **meta_extra,
    )
    if name == "qwen3":
        meta["qwen3_port"] = (
            "transformers 4.49 has no Qwen3 (added in 4.51): scripts/hf-reference/hfref.py qwen3_classes() ports "
            f"upstream modeling_qwen3.py at {hfref.QWEN3_UPSTREAM_COMMIT} (#36878) as subclasses of 4.49's Qwen2 "
            "classes; only the attention differs (q/k/v/o bias = attention_bias, per-head q_norm/k_norm before "
            "rotary, head_dim from the config). config.json is what that Qwen3Config's save_pretrained writes "
            "(model_type qwen3, architectures Qwen3ForSequenceClassification), which newer transformers load "
            "natively")
    meta["files"] = {fn: dict(bytes=os.path.getsize(f"{d}/{fn}"), sha256=sha256(f"{d}/{fn}"))
                     for fn in sorted(os.listdir(d)) if fn != "reference_meta.json"}
    meta["all_ok"] = all(ok.values())
    with open(f"{d}/reference_meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    size = sum(os.path.getsize(f"{d}/{fn}") for fn in os.listdir(d))
    print(f"[{name}] {'ok' if meta['all_ok'] else 'CHECK FAILED'} {size / 1024:.0f} KiB {time.time() - t0:.1f}s "
          f"spread {checks['spread']:.3f} batch-single {checks.get('batch_vs_single_max_abs', 'n/a')} "
          f"failed={[k for k, v in ok.items() if not v]} "
          f"ablations={ {k: round(v['max_abs_reward_change'], 5) for k, v in ablations.items()} }", flush=True)
    return meta["all_ok"]


def qwen2_sliding_checks(d, seqs, singles49):
    """The per-layer masks (hfref.apply_qwen2_config_windows) against transformers 4.49 itself:
    all layers sliding must equal 4.49 unpatched; no layer sliding must equal 4.49 with sliding_window None."""
    all_sliding = load(d, max_window_layers=0)
    hfref.apply_qwen2_config_windows(all_sliding, force=True)
    a = [score_single(all_sliding, s) for s in seqs]
    none_sliding = load(d, max_window_layers=3)
    hfref.apply_qwen2_config_windows(none_sliding, force=True)
    b = [score_single(none_sliding, s) for s in seqs]
    plain = load(d, sliding_window=None)
    c = [score_single(plain, s) for s in seqs]
    patched = load(d)
    hfref.apply_qwen2_config_windows(patched)
    p = [score_single(patched, s) for s in seqs]
    short = [i for i, s in enumerate(seqs) if len(s) <= CASES["qwen2-sliding"]["kw"]["sliding_window"]]
    return dict(
        layer_types_config_meaning=hfref.qwen2_layer_types(patched.config)[0],
        layer_types_transformers_4_49_eager=hfref.qwen2_layer_types_4_49(patched.config)[0],
        finding=(
            "transformers 4.49 eager/sdpa Qwen2 masks every layer with config.sliding_window: the mask is "
            "built once in Qwen2Model._prepare_4d_causal_attention_mask_with_cache_position "
            "(models/qwen2/modeling_qwen2.py:738-745, `if config.sliding_window is not None`), ignoring "
            "use_sliding_window and max_window_layers; the per-layer rule (use_sliding_window and layer_idx >= "
            "max_window_layers, modeling_qwen2.py:174-180) is passed as `sliding_window=` to the attention "
            "function, which only flash_attention_2 reads (eager_attention_forward, lines 107-130, ignores it). "
            "Newer transformers (PR #37866 '[core] Completely rewrite the masking logic', first in v4.53) "
            "set sliding_window = None unless use_sliding_window (configuration_qwen2.py) and give layer i "
            "a sliding mask only if i >= max_window_layers (config.layer_types). expected.json follows the "
            "newer reading (layer 0 full, layers 1-2 window 8); expected.transformers-4.49.json holds what 4.49 "
            "computes (all 3 layers window 8). The window itself is the same in both: key j masked for query i "
            "when j <= i - 8 (masking_utils.sliding_window_overlay: kv_idx > q_idx - sliding_window)."),
        patch_all_layers_sliding_vs_4_49_max_abs=max(abs(x - y) for x, y in zip(a, singles49)),
        patch_all_layers_sliding_vs_4_49_ok=max(abs(x - y) for x, y in zip(a, singles49)) <= 1e-6,
        patch_no_layer_sliding_vs_4_49_without_window_max_abs=max(abs(x - y) for x, y in zip(b, c)),
        patch_no_layer_sliding_vs_4_49_without_window_ok=max(abs(x - y) for x, y in zip(b, c)) <= 1e-6,
        expected_vs_transformers_4_49_max_abs=max(abs(x - y) for x, y in zip(p, singles49)),
        sequences_within_window_equal_in_both_ok=all(abs(p[i] - singles49[i]) <= 1e-6 for i in short),
    )


def main(names):
    os.makedirs(OUT, exist_ok=True)
    bad = [n for n in names if n not in CASES]
    if bad:
        raise SystemExit(f"unknown case(s) {bad}; known: {list(CASES)}")
    results = {n: make_case(n) for n in names}
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"total {total / 1024:.0f} KiB in {OUT}")
    if not all(results.values()):
        raise SystemExit(f"checks failed: {[n for n, v in results.items() if not v]}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
