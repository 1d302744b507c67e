#!/usr/bin/env python3
"""PyTorch scorer for the benchmarks: Hugging Face transformers' own classes on a model folder.

    /usr/bin/python3 bench/torch_score.py --model <hf folder> --inputs <inputs.json> --threads 2 --out <out.json>

inputs.json: {"sequences": [[ids...], ...], "batches": [[indices...], ...], "pad_id": int}
  Each batch is run as one forward pass, right-padded with pad_id, attention mask 1 on the tokens and 0 on the
  padding. Every sequence index must occur in exactly one batch ("batches" missing: each sequence alone).
  pad_id must equal the config's pad_token_id when a batch has more than one row (transformers reads the
  reward at the rightmost token whose id is not config.pad_token_id); null only with batches of one.
out.json: {"load_seconds", "seconds", "tokens", "padded_tokens", "tokens_per_second", "batch_seconds",
  "peak_rss_mb", "rewards" (one per sequence, in input order), "torch", "transformers", "transformers_commit",
  "model", "architecture", "threads"}. "seconds" is the time inside the forward passes (all batches, no
  warm-up unless --warmup), "tokens" counts real tokens (not padding), "peak_rss_mb" is ru_maxrss of this
  process (load included).

The model is loaded with AutoModelForSequenceClassification.from_pretrained(folder, torch_dtype=torch.float32,
attn_implementation="eager") (bf16 / fp16 weights are computed in float32), model.eval(), torch.inference_mode(),
use_cache=False. Qwen3 folders go through the port in scripts/hf-reference/hfref.py (transformers 4.49 has none).
Qwen2/Qwen3 sliding windows follow the config's meaning (layers >= max_window_layers slide, only when
use_sliding_window is true) as newer transformers do; --qwen2-windows 4.49 keeps 4.49's eager behaviour (every
layer masked with config.sliding_window whenever it is set). See scripts/hf-reference/README.md.

Environment (no pip here; Debian's python3-torch 1.13 and friends, see scripts/hf-reference/README.md):
  HFREF_TRANSFORMERS  folder holding transformers/  (src/ of huggingface/transformers at commit
                      7ec35bc3bdc160b9461b271f822980a292ef893b, the v4.49 release cut), e.g. /work/hfref/transformers/src
  HFREF_HUB           folder holding huggingface_hub/ (v0.28.1 src/) and huggingface_hub-0.28.1.dist-info/METADATA,
                      e.g. /work/hfref/hub/src
  HFREF_TOOLS         the shared tools folder with pydeps/ (safetensors, pure Python) and stubs/ (tokenizers
                      placeholder); default <repo>/../shared/tools/hf-reference
Run it with /usr/bin/python3 (Debian's torch); another python3 earlier on PATH may not see it.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the repository
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "hf-reference"))
import hfref  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face model folder (config.json + safetensors)")
    p.add_argument("--inputs", required=True, help='JSON {"sequences", "batches", "pad_id"}')
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", required=True, help="where to write the result JSON")
    p.add_argument("--warmup", type=int, default=0, help="run the first N batches once before timing")
    p.add_argument("--qwen2-windows", choices=("config", "4.49"), default="config",
                   help="Qwen2/Qwen3 sliding-window layers: as the config means them (default) or as 4.49 eager")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    hfref.setup_paths()
    import torch

    torch.set_num_threads(args.threads)
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification

    hfref.qwen3_classes()  # registers model_type "qwen3" with the Auto classes

    with open(args.inputs) as f:
        inputs = json.load(f)
    seqs = inputs["sequences"]
    batches = inputs.get("batches") or [[i] for i in range(len(seqs))]
    pad_id = inputs.get("pad_id")
    seen = sorted(i for b in batches for i in b)
    if seen != list(range(len(seqs))):
        raise SystemExit("every sequence index must occur in exactly one batch")
    if any(len(s) == 0 for s in seqs):
        raise SystemExit("empty sequence")

    config = AutoConfig.from_pretrained(args.model)
    if getattr(config, "num_labels", 1) != 1:
        raise SystemExit(f"num_labels {config.num_labels}: a reward model has one label")
    multi = any(len(b) > 1 for b in batches)
    if multi and pad_id is None:
        raise SystemExit("pad_id null: batches must hold one sequence each")
    if multi and config.pad_token_id is not None and pad_id != config.pad_token_id:
        raise SystemExit(f"pad_id {pad_id} != config pad_token_id {config.pad_token_id}: transformers would read "
                         "the reward on the padding")

    t0 = time.perf_counter()
    model = AutoModelForSequenceClassification.from_pretrained(args.model, torch_dtype=torch.float32,
                                                               attn_implementation="eager")
    model.eval()
    windows = None
    if args.qwen2_windows == "config" and getattr(config, "model_type", "") in ("qwen2", "qwen3"):
        windows = hfref.apply_qwen2_config_windows(model)
    load_seconds = time.perf_counter() - t0
    use_cache = {"use_cache": False} if hasattr(model.config, "use_cache") else {}

    def run(batch):
        rows = [seqs[i] for i in batch]
        L = max(len(s) for s in rows)
        x = torch.full((len(rows), L), pad_id if pad_id is not None else 0, dtype=torch.long)
        m = torch.zeros((len(rows), L), dtype=torch.long)
        for r, s in enumerate(rows):
            x[r, :len(s)] = torch.tensor(s, dtype=torch.long)
            m[r, :len(s)] = 1
        with torch.inference_mode():
            logits = model(input_ids=x, attention_mask=m, **use_cache).logits
        assert logits.shape == (len(rows), 1), logits.shape
        return [float(v) for v in logits[:, 0]], len(rows) * L

    for b in batches[:args.warmup]:
        run(b)
    rewards = [None] * len(seqs)
    batch_seconds = []
    padded = 0
    for b in batches:
        t = time.perf_counter()
        vals, n = run(b)
        batch_seconds.append(time.perf_counter() - t)
        padded += n
        for i, v in zip(b, vals):
            rewards[i] = v
    seconds = sum(batch_seconds)
    tokens = sum(len(s) for s in seqs)
    out = dict(
        load_seconds=load_seconds,
        seconds=seconds,
        tokens=tokens,
        padded_tokens=padded,
        tokens_per_second=tokens / seconds if seconds > 0 else None,
        batch_seconds=batch_seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        rewards=rewards,
        torch=torch.__version__,
        transformers=hfref.TRANSFORMERS_COMMIT,
        transformers_version=transformers.__version__,
        model=os.path.abspath(args.model),
        architecture=type(model).__name__,
        threads=args.threads,
    )
    if getattr(config, "model_type", "") in ("qwen2", "qwen3"):
        out["qwen2_windows"] = (windows if windows is not None else
                                "transformers 4.49 eager masks (--qwen2-windows 4.49)" if args.qwen2_windows == "4.49"
                                else "transformers 4.49 eager masks (same as the config's meaning here)")
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
