"""Make the golden `*ForQuestionAnswering` checkpoints of tests/test_family_qa.py (run ONCE,
with torch).

Run in the reference venv, never in the test process (torch + tensorflow in one process
segfaults here):

    .refvenv/bin/python tests/golden/families_qa/make_qa_families.py [family ...]

For each family below, a tiny transformers `<Family>ForQuestionAnswering` is randomly
initialised (every tensor, LayerNorms, biases and `qa_outputs` included), saved with
`save_pretrained` (safetensors) in `qa_<family>/` next to this script, and run (eager
attention, float32) on a fixed padded batch; `qa_<family>/reference.npz` holds the inputs and
the model's `start_logits` / `end_logits`.
"""

import os
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(vocab_size=40, hidden_size=16, num_attention_heads=2, intermediate_size=32,
             max_position_embeddings=24)

# family: (config class, config kwargs, model class)
FAMILIES = {
    "roberta": ("RobertaConfig", dict(SMALL, num_hidden_layers=2, type_vocab_size=1,
                                      pad_token_id=1, hidden_act="gelu"),
                "RobertaForQuestionAnswering"),
    "xlm_roberta": ("XLMRobertaConfig", dict(SMALL, num_hidden_layers=1, type_vocab_size=1,
                                             pad_token_id=1, hidden_act="gelu_new"),
                    "XLMRobertaForQuestionAnswering"),
    "electra": ("ElectraConfig", dict(SMALL, embedding_size=8, num_hidden_layers=2,
                                      hidden_act="gelu"),
                "ElectraForQuestionAnswering"),
    "albert": ("AlbertConfig", dict(SMALL, embedding_size=8, num_hidden_layers=2,
                                    hidden_act="gelu_new"),
               "AlbertForQuestionAnswering"),
    "distilbert": ("DistilBertConfig", dict(vocab_size=40, dim=16, n_heads=2, hidden_dim=32,
                                            n_layers=2, activation="gelu",
                                            max_position_embeddings=24),
                   "DistilBertForQuestionAnswering"),
}
LENGTHS = (12, 7, 4)


def inputs_for(config):
    """A padded batch: `[CLS]`-like first id, question then context (token type 1 where
    the family has two types), pad ids at padding."""
    rng = np.random.default_rng(1)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = rng.integers(3, config.vocab_size, size=(len(LENGTHS), max(LENGTHS))).astype(np.int32)
    ids[ids == pad] = pad + 3
    mask = (np.arange(max(LENGTHS))[None] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, pad).astype(np.int32)
    types = np.zeros_like(ids)
    if getattr(config, "type_vocab_size", 1) > 1:
        types[0, 4:12] = 1
        types[1, 3:7] = 1
    return ids, mask, types


def make(family):
    config_name, kwargs, model_name = FAMILIES[family]
    config = getattr(transformers, config_name)(**kwargs)
    model = getattr(transformers, model_name)(config).eval()
    model.config._attn_implementation = "eager"
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            elif name.startswith("qa_outputs"):
                param.copy_(0.5 * torch.randn_like(param))
            else:
                param.copy_(0.05 * torch.randn_like(param))
    out_dir = os.path.join(HERE, f"qa_{family}")
    model.save_pretrained(out_dir)
    ids, mask, types = inputs_for(config)
    feed = dict(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long())
    if config_name != "DistilBertConfig":
        feed["token_type_ids"] = torch.tensor(types).long()
    with torch.no_grad():
        out = model(**feed)
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids,
                        attention_mask=mask, token_type_ids=types,
                        start_logits=out.start_logits.numpy(), end_logits=out.end_logits.numpy())
    print(family, model_name, sorted(os.listdir(out_dir)),
          float(np.abs(out.start_logits.numpy()).max()))


if __name__ == "__main__":
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for name in sys.argv[1:] or FAMILIES:
        make(name)
