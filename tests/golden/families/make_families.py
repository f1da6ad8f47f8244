"""Make the golden checkpoints and outputs of tests/test_families.py (run ONCE, with torch).

Run in the reference venv, never in the test process (torch + tensorflow in one process
segfaults here):

    .refvenv/bin/python tests/golden/families/make_families.py [variant ...]

For each variant below, a tiny transformers model of that family is randomly initialised
(every tensor, LayerNorms and biases included, so a mis-mapped weight cannot hide), saved
next to this script in `<variant>/`, and run (eager attention, float32) on a fixed padded
batch; `<variant>/reference.npz` holds the inputs and the base model's `sequence_output`
(and `pooled_output` when the base model has a pooler).

Formats: `safetensors` variants use `save_pretrained` of the base model (`RobertaModel`...);
`bin` variants `torch.save` the state dict of a pre-training / masked-LM model (heads and
the `roberta.` / `electra.` ... prefix included, as Hub checkpoints are), some with the
legacy `LayerNorm.gamma` / `.beta` names.
"""

import json
import os
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(vocab_size=40, hidden_size=16, num_attention_heads=2, intermediate_size=32)

# name: (config class, config kwargs, model class saved, format, legacy LayerNorm names)
VARIANTS = {
    "roberta_gelu_safetensors": (
        "RobertaConfig", dict(SMALL, num_hidden_layers=2, hidden_act="gelu",
                              max_position_embeddings=20, type_vocab_size=1,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2),
        "RobertaModel", "safetensors", False),
    "roberta_relu_bin": (
        "RobertaConfig", dict(SMALL, num_hidden_layers=1, hidden_act="relu",
                              max_position_embeddings=24, type_vocab_size=2,
                              pad_token_id=1, layer_norm_eps=1e-5),
        "RobertaForMaskedLM", "bin", True),
    "xlm_roberta_safetensors": (
        "XLMRobertaConfig", dict(SMALL, num_hidden_layers=2, hidden_act="gelu_new",
                                 max_position_embeddings=20, type_vocab_size=1,
                                 pad_token_id=1, layer_norm_eps=1e-5),
        "XLMRobertaModel", "safetensors", False),
    "electra_projected_safetensors": (
        "ElectraConfig", dict(SMALL, embedding_size=8, num_hidden_layers=2,
                              hidden_act="gelu", max_position_embeddings=16),
        "ElectraModel", "safetensors", False),
    "electra_bin": (
        "ElectraConfig", dict(SMALL, embedding_size=16, num_hidden_layers=1,
                              hidden_act="gelu_new", max_position_embeddings=16),
        "ElectraForPreTraining", "bin", True),
    "albert_safetensors": (
        "AlbertConfig", dict(SMALL, embedding_size=8, num_hidden_layers=3,
                             hidden_act="gelu_new", max_position_embeddings=16,
                             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
        "AlbertModel", "safetensors", False),
    "albert_relu_bin": (
        "AlbertConfig", dict(SMALL, embedding_size=12, num_hidden_layers=2,
                             hidden_act="relu", max_position_embeddings=16),
        "AlbertForPreTraining", "bin", False),
    "distilbert_safetensors": (
        "DistilBertConfig", dict(vocab_size=40, dim=16, n_heads=2, hidden_dim=32, n_layers=2,
                                 activation="gelu", max_position_embeddings=16),
        "DistilBertModel", "safetensors", False),
    "distilbert_sinusoidal_bin": (
        "DistilBertConfig", dict(vocab_size=40, dim=16, n_heads=2, hidden_dim=32, n_layers=1,
                                 activation="relu", max_position_embeddings=16,
                                 sinusoidal_pos_embds=True),
        "DistilBertForMaskedLM", "bin", False),
}

LENGTHS = (10, 6, 3)


def inputs_for(config):
    """A padded batch: pad ids at padding (RoBERTa's positions depend on them), both
    token types where the family has two."""
    rng = np.random.default_rng(0)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = rng.integers(3, config.vocab_size, size=(len(LENGTHS), max(LENGTHS))).astype(np.int32)
    ids[ids == pad] = pad + 3
    mask = (np.arange(max(LENGTHS))[None] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, pad).astype(np.int32)
    types = np.zeros_like(ids)
    if getattr(config, "type_vocab_size", 0) and config.type_vocab_size > 1:
        types[0, 5:] = 1
        types[1, 3:6] = 1
    return ids, mask, types


def randomize(model, sinusoidal):
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if sinusoidal and "position_embeddings" in name:
                continue  # keep the sinusoidal table the config asks for
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.05 * torch.randn_like(param))


def make(name):
    config_name, kwargs, model_name, fmt, legacy = VARIANTS[name]
    config = getattr(transformers, config_name)(**kwargs)
    model = getattr(transformers, model_name)(config).eval()
    model.config._attn_implementation = "eager"
    sinusoidal = bool(kwargs.get("sinusoidal_pos_embds"))
    randomize(model, sinusoidal)
    out_dir = os.path.join(HERE, name)
    os.makedirs(out_dir, exist_ok=True)
    if fmt == "safetensors":
        model.save_pretrained(out_dir)
    else:
        state = model.state_dict()
        if legacy:
            state = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
                      .replace("LayerNorm.bias", "LayerNorm.beta"): v for k, v in state.items()}
        torch.save(state, os.path.join(out_dir, "pytorch_model.bin"))
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(dict(config.to_dict(), architectures=[model_name]), f, indent=2)
    base = model.base_model
    ids, mask, types = inputs_for(config)
    feed = dict(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long())
    if config_name != "DistilBertConfig":
        feed["token_type_ids"] = torch.tensor(types).long()
    with torch.no_grad():
        out = base(**feed)
    arrays = dict(input_ids=ids, attention_mask=mask, token_type_ids=types,
                  sequence_output=out.last_hidden_state.numpy())
    if getattr(out, "pooler_output", None) is not None:
        arrays["pooled_output"] = out.pooler_output.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **arrays)
    print(name, model_name, fmt, sorted(os.listdir(out_dir)), "pooled" in " ".join(arrays))


if __name__ == "__main__":
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for variant in sys.argv[1:] or VARIANTS:
        make(variant)
