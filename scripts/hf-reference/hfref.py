"""Shared helpers for the Hugging Face reference side (make_fixtures.py, bench/torch_score.py).

Nothing here computes a score by itself: it only makes transformers' own classes importable on this
machine, adds a Qwen3 port built out of transformers' own Qwen2 classes, and (optionally) makes 4.49's
eager Qwen2 honour `use_sliding_window` / `max_window_layers` the way newer transformers do.

Environment (see README.md next to this file):
  HFREF_TRANSFORMERS  folder holding transformers/  (src/ of huggingface/transformers at 7ec35bc3bdc1, v4.49 cut)
  HFREF_HUB           folder holding huggingface_hub/ (v0.28.1 src/) and huggingface_hub-0.28.1.dist-info/
  HFREF_TOOLS         ../shared/tools/hf-reference (pydeps/: safetensors in pure Python; stubs/: tokenizers
                      placeholder). Defaults to <repo>/../shared/tools/hf-reference.
"""
import functools
import os
import sys

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

TRANSFORMERS_COMMIT = "7ec35bc3bdc160b9461b271f822980a292ef893b"
TRANSFORMERS_NOTE = (
    "huggingface/transformers main at the v4.49 release cut (version string 4.49.0.dev0), taken unmodified "
    "from the history in the GitHub fork macorisd/transformers-qwen3; the same commit as "
    "shared/data/reference-rms (the shared folder beside the repository)"
)
# Upstream commit whose src/transformers/models/qwen3/modeling_qwen3.py the Qwen3 port follows:
# "Adding Qwen3 and Qwen3MoE (#36878)", 2025-03-31, first released in v4.51.0.
QWEN3_UPSTREAM_COMMIT = "6acd5aecb34b579729c29a26aa470f92081d88fa"


def setup_paths():
    """Put transformers / huggingface_hub / safetensors / the tokenizers stub first on sys.path."""
    missing = [v for v in ("HFREF_TRANSFORMERS", "HFREF_HUB") if not os.environ.get(v)]
    if missing:
        raise SystemExit(f"set {' and '.join(missing)} (see scripts/hf-reference/README.md)")
    tools = os.environ.get("HFREF_TOOLS") or os.path.join(REPO, "..", "shared", "tools", "hf-reference")
    tools = os.path.normpath(tools)
    for p in (os.environ["HFREF_TRANSFORMERS"], os.environ["HFREF_HUB"], f"{tools}/pydeps", f"{tools}/stubs"):
        if not os.path.isdir(p):
            raise SystemExit(f"not a folder: {p}")
    paths = [os.environ["HFREF_TRANSFORMERS"], os.environ["HFREF_HUB"], f"{tools}/pydeps", f"{tools}/stubs"]
    sys.path[:0] = [p for p in paths if p not in sys.path]
    import transformers  # noqa: F401

    if not os.path.abspath(transformers.__file__).startswith(os.path.abspath(os.environ["HFREF_TRANSFORMERS"])):
        raise SystemExit(f"transformers imported from {transformers.__file__}, not HFREF_TRANSFORMERS")
    return tools


# --------------------------------------------------------------------------------------------- Qwen3
_QWEN3 = {}


def qwen3_classes():
    """Qwen3Config / Qwen3ForSequenceClassification for transformers 4.49 (which has no Qwen3).

    Port of upstream modeling_qwen3.py at QWEN3_UPSTREAM_COMMIT. Diffing that file against 4.49's
    modeling_qwen2.py (names normalised) leaves only the attention module different:
      * q/k/v/o projections all take bias=config.attention_bias (Qwen2: q/k/v bias=True, o bias=False);
      * q_norm / k_norm: RMSNorm over head_dim (weight shape [head_dim], eps=rms_norm_eps), applied per head
        to q_proj(x).view(..., heads, head_dim) and k_proj(x).view(..., kv_heads, head_dim), BEFORE rotary;
      * head_dim comes from the config (default 128), independent of hidden_size / num_attention_heads;
      * sliding window: the per-layer value only reaches flash attention; the eager mask is built by the
        model exactly as Qwen2's (config.sliding_window for every layer).
    Everything else (RMSNorm, MLP, rotary, decoder layer, mask, pooling of the classifier) is transformers'
    own Qwen2 code, reused by subclassing, so the port cannot drift from it.
    """
    if _QWEN3:
        return _QWEN3["config"], _QWEN3["seqcls"]
    from torch import nn
    from transformers import AutoConfig, AutoModelForSequenceClassification, Qwen2Config
    from transformers.models.qwen2 import modeling_qwen2 as q2

    class Qwen3Config(Qwen2Config):
        model_type = "qwen3"

        def __init__(self, head_dim=128, attention_bias=False, **kwargs):
            self.head_dim = head_dim
            self.attention_bias = attention_bias
            super().__init__(**kwargs)

    class Qwen3Attention(q2.Qwen2Attention):
        def __init__(self, config, layer_idx):
            super().__init__(config, layer_idx)
            hd, b = config.head_dim, config.attention_bias
            assert self.head_dim == hd
            self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * hd, bias=b)
            self.k_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * hd, bias=b)
            self.v_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * hd, bias=b)
            self.o_proj = nn.Linear(config.num_attention_heads * hd, config.hidden_size, bias=b)
            self.q_norm = q2.Qwen2RMSNorm(hd, eps=config.rms_norm_eps)  # per head, over head_dim only
            self.k_norm = q2.Qwen2RMSNorm(hd, eps=config.rms_norm_eps)

        def forward(self, hidden_states, position_embeddings, attention_mask, past_key_value=None,
                    cache_position=None, **kwargs):
            input_shape = hidden_states.shape[:-1]
            hidden_shape = (*input_shape, -1, self.head_dim)
            # the only computational change from Qwen2Attention.forward: q_norm / k_norm before the transpose
            query_states = self.q_norm(self.q_proj(hidden_states).view(hidden_shape)).transpose(1, 2)
            key_states = self.k_norm(self.k_proj(hidden_states).view(hidden_shape)).transpose(1, 2)
            value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
            cos, sin = position_embeddings
            query_states, key_states = q2.apply_rotary_pos_emb(query_states, key_states, cos, sin)
            if past_key_value is not None:
                cache_kwargs = {"sin": sin, "cos": cos, "cache_position": cache_position}
                key_states, value_states = past_key_value.update(key_states, value_states, self.layer_idx,
                                                                 cache_kwargs)
            sliding_window = None  # upstream: only used by flash attention (the eager mask ignores it)
            if (self.config.use_sliding_window and getattr(self.config, "sliding_window", None) is not None
                    and self.layer_idx >= self.config.max_window_layers):
                sliding_window = self.config.sliding_window
            attention_interface = q2.eager_attention_forward
            if self.config._attn_implementation != "eager":
                attention_interface = q2.ALL_ATTENTION_FUNCTIONS[self.config._attn_implementation]
            attn_output, attn_weights = attention_interface(
                self, query_states, key_states, value_states, attention_mask,
                dropout=0.0 if not self.training else self.attention_dropout, scaling=self.scaling,
                sliding_window=sliding_window, **kwargs)
            attn_output = attn_output.reshape(*input_shape, -1).contiguous()
            return self.o_proj(attn_output), attn_weights

    class Qwen3PreTrainedModel(q2.Qwen2PreTrainedModel):
        config_class = Qwen3Config
        _no_split_modules = ["Qwen2DecoderLayer"]

    class Qwen3Model(Qwen3PreTrainedModel, q2.Qwen2Model):
        def __init__(self, config):
            q2.Qwen2Model.__init__(self, config)
            for i, layer in enumerate(self.layers):
                layer.self_attn = Qwen3Attention(config, i)
            self.post_init()

    class Qwen3ForSequenceClassification(Qwen3PreTrainedModel, q2.Qwen2ForSequenceClassification):
        def __init__(self, config):
            Qwen3PreTrainedModel.__init__(self, config)
            self.num_labels = config.num_labels
            self.model = Qwen3Model(config)
            self.score = nn.Linear(config.hidden_size, self.num_labels, bias=False)
            self.post_init()

    for c in (Qwen3Config, Qwen3Attention, Qwen3PreTrainedModel, Qwen3Model, Qwen3ForSequenceClassification):
        c.__module__ = __name__
    try:
        AutoConfig.register("qwen3", Qwen3Config)
        AutoModelForSequenceClassification.register(Qwen3Config, Qwen3ForSequenceClassification)
    except ValueError:  # already registered (e.g. a transformers that has Qwen3)
        pass
    _QWEN3.update(config=Qwen3Config, seqcls=Qwen3ForSequenceClassification, attention=Qwen3Attention,
                  model=Qwen3Model)
    return Qwen3Config, Qwen3ForSequenceClassification


# ------------------------------------------------------------------------ Qwen2 per-layer windows
def qwen2_layer_types(config):
    """Which layers slide, as newer transformers read a Qwen2-style config (PR #37866, first in v4.53:
    configuration_qwen2.py `sliding_window = sliding_window if use_sliding_window else None`;
    `layer_types[i] = "sliding_attention" if sliding_window is not None and i >= max_window_layers`)."""
    window = config.sliding_window if getattr(config, "use_sliding_window", False) else None
    return ["sliding_attention" if window is not None and i >= config.max_window_layers else "full_attention"
            for i in range(config.num_hidden_layers)], window


def qwen2_layer_types_4_49(config):
    """What 4.49's EAGER (and sdpa) Qwen2 does: Qwen2Model._prepare_4d_causal_attention_mask_with_cache_position
    (modeling_qwen2.py:738-745) masks with config.sliding_window for every layer whenever it is not None,
    whatever use_sliding_window and max_window_layers say; the per-layer rule in Qwen2Attention.forward
    (modeling_qwen2.py:174-180) only reaches flash_attention_2."""
    w = getattr(config, "sliding_window", None)
    return ["sliding_attention" if w is not None else "full_attention"] * config.num_hidden_layers, w


def apply_qwen2_config_windows(model, force=False):
    """Make a 4.49 Qwen2/Qwen3 (eager) model use per-layer masks as newer transformers do: full causal for
    layers < max_window_layers (or all, when use_sliding_window is false), the sliding mask for the rest.
    Both masks come from transformers' own _update_causal_mask (called with config.sliding_window set to
    None, then to the window). Returns the layer types used, or None when 4.49 already does the same."""
    cfg = model.config
    new_types, window = qwen2_layer_types(cfg)
    old_types, _ = qwen2_layer_types_4_49(cfg)
    if new_types == old_types and not force:
        return None
    base = model.model
    orig = base._update_causal_mask
    masks = {}

    def update_causal_mask(*args, **kwargs):
        saved = cfg.sliding_window
        try:
            cfg.sliding_window = None
            masks["full_attention"] = orig(*args, **kwargs)
            cfg.sliding_window = window
            masks["sliding_attention"] = orig(*args, **kwargs) if window is not None else None
        finally:
            cfg.sliding_window = saved
        return masks["full_attention"]

    def layer_forward(fwd, kind, *args, **kwargs):
        assert "attention_mask" in kwargs, "4.49 Qwen2Model passes attention_mask by keyword"
        kwargs["attention_mask"] = masks[kind]
        return fwd(*args, **kwargs)

    base._update_causal_mask = update_causal_mask
    for layer, kind in zip(base.layers, new_types):
        layer.forward = functools.partial(layer_forward, layer.forward, kind)
    return new_types
