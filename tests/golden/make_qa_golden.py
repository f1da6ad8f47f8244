"""Make the question answering checkpoint goldens (run ONCE, in the reference venv):

    .refvenv/bin/python tests/golden/make_qa_golden.py

Writes, next to this script:
- qa_tiny/: a transformers `BertForQuestionAnswering` (vocab 64, hidden 32, 2 layers, 2 heads,
  intermediate 64) with random weights in every tensor (biases, LayerNorms and `qa_outputs`
  included, so a mis-mapped weight cannot hide), saved with `save_pretrained`
  (config.json + model.safetensors; no pooler, as transformers' QA model has none).
- qa_tiny_golden.npz: random ids (both token types, padding) and the model's float32
  `start_logits` / `end_logits` (eager attention).

tests/test_qa_checkpoints.py loads qa_tiny/ with `BertQuestionAnswerer.from_preset` and
compares; tests/golden/check_qa_pretrained.py checks the other direction.
"""

import os

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=64, type_vocab_size=2, max_position_embeddings=64,
              hidden_act="gelu", layer_norm_eps=1e-12)


def main():
    torch.manual_seed(0)
    config = transformers.BertConfig(**CONFIG)
    model = transformers.BertForQuestionAnswering(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm.weight" in name:
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.05 * torch.randn_like(param))
    model.save_pretrained(os.path.join(HERE, "qa_tiny"))

    rng = np.random.default_rng(0)
    lengths = [20, 11, 4, 16]
    ids = rng.integers(5, 64, size=(4, 20)).astype(np.int32)
    ids[:, 0] = 2
    mask = (np.arange(20)[None] < np.array(lengths)[:, None]).astype(np.int32)
    types = np.zeros_like(ids)
    types[0, 8:] = 1
    types[1, 5:11] = 1
    types[3, 6:16] = 1
    ids = ids * mask
    model = transformers.BertForQuestionAnswering.from_pretrained(
        os.path.join(HERE, "qa_tiny"), attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long(),
                    token_type_ids=torch.tensor(types).long())
    np.savez_compressed(os.path.join(HERE, "qa_tiny_golden.npz"), input_ids=ids,
                        attention_mask=mask, token_type_ids=types,
                        start_logits=out.start_logits.numpy(), end_logits=out.end_logits.numpy())
    print("qa_tiny", sorted(os.listdir(os.path.join(HERE, "qa_tiny"))), "transformers",
          transformers.__version__, "torch", torch.__version__)


if __name__ == "__main__":
    main()
