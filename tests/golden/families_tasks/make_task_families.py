"""Make the golden fine-tuned checkpoints of tests/test_task_checkpoints.py (run ONCE, with
torch).

Run in the reference environment (`bash tests/reference/make_env.sh`), never in the test
process (torch + tensorflow in one process crashed here):

    .refvenv/bin/python tests/golden/families_tasks/make_task_families.py [family ...]

For each family and each task head below, a tiny transformers model
(`<Family>ForSequenceClassification` single-label / 2-label / multi-label / regression,
`<Family>ForTokenClassification`) is randomly initialised (every tensor: LayerNorms, biases,
pooler and head included, so a mis-mapped or transposed weight cannot agree by accident),
saved with `save_pretrained` (safetensors, `config.json` with `id2label` and `problem_type`
as transformers writes them) in `<family>_<case>/`, and run (eager attention, float32) on a
fixed padded batch; `<family>_<case>/reference.npz` holds the inputs and the logits.
"""

import os
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(vocab_size=40, hidden_size=16, num_attention_heads=2, intermediate_size=32,
             max_position_embeddings=24, num_hidden_layers=1)

# family: (config class, config kwargs, class stem)
FAMILIES = {
    "bert": ("BertConfig", dict(SMALL, hidden_act="gelu"), "Bert"),
    "roberta": ("RobertaConfig", dict(SMALL, type_vocab_size=1, pad_token_id=1,
                                      hidden_act="gelu"), "Roberta"),
    "xlm_roberta": ("XLMRobertaConfig", dict(SMALL, type_vocab_size=1, pad_token_id=1,
                                             hidden_act="gelu_new"), "XLMRoberta"),
    "electra": ("ElectraConfig", dict(SMALL, embedding_size=8, hidden_act="relu"), "Electra"),
    "albert": ("AlbertConfig", dict(SMALL, embedding_size=8, hidden_act="gelu_new"), "Albert"),
    "distilbert": ("DistilBertConfig", dict(vocab_size=40, dim=16, n_heads=2, hidden_dim=32,
                                            n_layers=1, activation="gelu",
                                            max_position_embeddings=24), "DistilBert"),
}
# case: (task class suffix, config kwargs)
CASES = {
    "single": ("ForSequenceClassification",
               dict(id2label={0: "부정", 1: "중립", 2: "긍정"},
                    label2id={"부정": 0, "중립": 1, "긍정": 2},
                    problem_type="single_label_classification")),
    "pair2": ("ForSequenceClassification", dict(num_labels=2)),  # LABEL_0/1, no problem_type
    "multilabel": ("ForSequenceClassification",
                   dict(id2label={0: "joy", 1: "anger", 2: "fear", 3: "love"},
                        label2id={"joy": 0, "anger": 1, "fear": 2, "love": 3},
                        problem_type="multi_label_classification")),
    "regression": ("ForSequenceClassification", dict(num_labels=1)),  # inferred regression
    "token": ("ForTokenClassification",
              dict(id2label={0: "O", 1: "B-PS", 2: "I-PS", 3: "B-LC", 4: "I-LC"},
                   label2id={"O": 0, "B-PS": 1, "I-PS": 2, "B-LC": 3, "I-LC": 4})),
}
LENGTHS = (12, 7, 4)


def inputs_for(config):
    """A padded batch (first id a `[CLS]`-like 2, pad ids at padding, a second segment where
    the family has two token types)."""
    rng = np.random.default_rng(1)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = rng.integers(3, config.vocab_size, size=(len(LENGTHS), max(LENGTHS))).astype(np.int32)
    ids[ids == pad] = pad + 3
    ids[:, 0] = 2
    mask = (np.arange(max(LENGTHS))[None] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, pad).astype(np.int32)
    types = np.zeros_like(ids)
    if getattr(config, "type_vocab_size", 1) > 1:
        types[0, 6:12] = 1
        types[1, 4:7] = 1
    return ids, mask, types


def make(family, case):
    config_name, kwargs, stem = FAMILIES[family]
    suffix, task_kwargs = CASES[case]
    config = getattr(transformers, config_name)(**kwargs, **task_kwargs)
    model = getattr(transformers, stem + suffix)(config).eval()
    model.config._attn_implementation = "eager"
    torch.manual_seed(sorted(FAMILIES).index(family) * 10 + sorted(CASES).index(case))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            elif name.startswith(("classifier", "pre_classifier")):
                param.copy_(0.5 * torch.randn_like(param))
            else:
                param.copy_(0.1 * torch.randn_like(param))
    out_dir = os.path.join(HERE, f"{family}_{case}")
    model.save_pretrained(out_dir)
    ids, mask, types = inputs_for(config)
    feed = dict(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long())
    if config_name != "DistilBertConfig":
        feed["token_type_ids"] = torch.tensor(types).long()
    with torch.no_grad():
        logits = model(**feed).logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids,
                        attention_mask=mask, token_type_ids=types, logits=logits)
    print(family, case, type(model).__name__, logits.shape, model.config.problem_type)


if __name__ == "__main__":
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for name in sys.argv[1:] or FAMILIES:
        for case in CASES:
            make(name, case)
