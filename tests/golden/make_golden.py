"""Make the golden reference files for tests/test_checkpoints.py (run ONCE, with torch).

Run in the reference venv, never in the test process (torch + tensorflow in one process
segfaults here):

    .refvenv/bin/python tests/golden/make_golden.py <minilm_dir>

Writes, next to this script:
- minilm_golden.npz: a fixed batch of sentences (mixed lengths, one sentence pair, padding)
  tokenised by transformers' BertTokenizer, and the float32 outputs of transformers'
  PyTorch BertModel (eager attention) on the all-MiniLM-L6-v2 checkpoint. Rows: the single
  sentences (`texts`) then the pairs (`pair_texts`).
- klue_tiny/: a klue/bert-base-shaped config (vocab 32000, type_vocab_size 2) shrunk to
  2 layers, hidden 32, 2 heads, intermediate 64, with random weights (every tensor,
  biases and LayerNorms included, so a mis-mapped weight cannot hide), saved by
  transformers/torch twice:
    safetensors/: BertModel.save_pretrained (config.json + model.safetensors),
    bin/: torch.save of a BertForPreTraining state dict (pytorch_model.bin, torch's zip
          pickle format) with the `bert.` prefix, the `cls.*` pre-training heads and the
          legacy `LayerNorm.gamma` / `LayerNorm.beta` names of old TF-converted checkpoints.
- klue_tiny_golden.npz: random ids (both token types, padding) and BertModel's outputs.
- dtypes.bin / dtypes.npz: a tiny torch.save'd dict with a bfloat16, a float16, a transposed
  (non-contiguous) float32, an int64 and a scalar tensor, and their values as float32/int64.

Pass part names after the directory to remake only some (minilm, klue_tiny, dtypes).
"""

import json
import os
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))

SENTENCES = [
    "Hello world.",
    "The quick brown fox jumps over the lazy dog, again and again, until it gets tired.",
    ("How old are you?", "I am six years old."),
    "A",
    "Parity means the same numbers, down to float32 round-off, on every padded batch.",
    "Transformers without torch: reading checkpoints safely.",
]

KLUE_TINY = dict(vocab_size=32000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, type_vocab_size=2, max_position_embeddings=512,
                 hidden_act="gelu", layer_norm_eps=1e-12)


def run(model, ids, mask, types):
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                    token_type_ids=torch.tensor(types))
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


def minilm(minilm_dir):
    tokenizer = transformers.BertTokenizer.from_pretrained(minilm_dir)
    singles = [s for s in SENTENCES if isinstance(s, str)]
    pairs = [s for s in SENTENCES if not isinstance(s, str)]
    rows = [tokenizer(s) for s in singles] + [tokenizer(a, b) for a, b in pairs]
    length = max(len(r["input_ids"]) for r in rows)

    def pad(key):
        return np.array([r[key] + [0] * (length - len(r[key])) for r in rows], np.int32)

    ids, mask, types = pad("input_ids"), pad("attention_mask"), pad("token_type_ids")
    model = transformers.BertModel.from_pretrained(
        minilm_dir, attn_implementation="eager", dtype=torch.float32).eval()
    seq, pooled = run(model, ids, mask, types)
    np.savez_compressed(os.path.join(HERE, "minilm_golden.npz"), input_ids=ids,
                        attention_mask=mask, token_type_ids=types,
                        sequence_output=seq, pooled_output=pooled,
                        texts=np.array(singles), pair_texts=np.array(pairs))
    print("minilm", ids.shape, "transformers", transformers.__version__, "torch",
          torch.__version__)


def klue_tiny():
    torch.manual_seed(0)
    config = transformers.BertConfig(**KLUE_TINY)
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm.weight" in name:
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.05 * torch.randn_like(param))
    bert = model.bert
    out_dir = os.path.join(HERE, "klue_tiny")
    bert.save_pretrained(os.path.join(out_dir, "safetensors"))
    os.makedirs(os.path.join(out_dir, "bin"), exist_ok=True)
    state = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
              .replace("LayerNorm.bias", "LayerNorm.beta"): v
             for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(out_dir, "bin", "pytorch_model.bin"))
    with open(os.path.join(out_dir, "bin", "config.json"), "w") as f:
        json.dump(dict(config.to_dict(), architectures=["BertForPreTraining"]), f, indent=2)

    rng = np.random.default_rng(0)
    lengths = [16, 9, 3, 12]
    ids = rng.integers(5, 32000, size=(4, 16)).astype(np.int32)
    ids[:, 0] = 2
    mask = (np.arange(16)[None] < np.array(lengths)[:, None]).astype(np.int32)
    types = np.zeros_like(ids)
    types[0, 8:] = 1
    types[3, 6:12] = 1
    ids = ids * mask
    seq, pooled = run(bert, ids, mask, types)
    np.savez_compressed(os.path.join(HERE, "klue_tiny_golden.npz"), input_ids=ids,
                        attention_mask=mask, token_type_ids=types,
                        sequence_output=seq, pooled_output=pooled)
    print("klue_tiny", sorted(os.listdir(os.path.join(out_dir, "bin"))),
          sorted(os.listdir(os.path.join(out_dir, "safetensors"))))


def dtypes():
    torch.manual_seed(0)
    state = {"bf16": torch.randn(3, 2).to(torch.bfloat16), "f16": torch.randn(4).half(),
             "transposed": torch.randn(4, 3).t(), "int64": torch.arange(5),
             "scalar": torch.tensor(3.5)}
    torch.save(state, os.path.join(HERE, "dtypes.bin"))
    np.savez(os.path.join(HERE, "dtypes.npz"),
             **{k: (v.float() if v.is_floating_point() else v).numpy() for k, v in state.items()})


if __name__ == "__main__":
    parts = sys.argv[2:] or ["minilm", "klue_tiny", "dtypes"]
    if "minilm" in parts:
        minilm(sys.argv[1])
    if "klue_tiny" in parts:
        klue_tiny()
    if "dtypes" in parts:
        dtypes()
