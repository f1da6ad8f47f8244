"""Make the golden masked-LM checkpoints of tests/test_masked_lm.py (run ONCE, with torch).

Run in the reference venv, never in the test process (torch + tensorflow in one process
segfaults here):

    .refvenv/bin/python tests/golden/families_mlm/make_mlm_families.py [family ...]

For each family below a tiny transformers masked-LM model (`BertForPreTraining`, whose
next-sentence head bertcls ignores, `RobertaForMaskedLM`, `XLMRobertaForMaskedLM`,
`ElectraForMaskedLM` (the generator: embedding size 8 != hidden 16), `AlbertForMaskedLM`,
`DistilBertForMaskedLM`) is randomly initialised (every tensor, LayerNorms and the output
bias included; the decoder is tied to the word embeddings), saved with `save_pretrained`
(safetensors) in `mlm_<family>/` next to this script with tokenizer files, and run (eager
attention, float32) on a fixed padded batch: `reference.npz` holds the inputs and the
logits. `fill_mask.json` holds transformers' fill-mask pipeline output (top_k=5) for
`TEXTS` (with the family's mask token) read with the directory's own tokenizer (not for
XLM-R: transformers cannot read the minimal SentencePiece model written here).
The head activations differ from the backbone's on purpose where transformers fixes them
(RoBERTa's and ELECTRA's generator head use GELU whatever `hidden_act` says).
"""

import importlib.util
import json
import os
import sys

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SMALL = dict(vocab_size=40, hidden_size=16, num_attention_heads=2, intermediate_size=32,
             max_position_embeddings=24)
WORDS = ["kim", "went", "to", "seoul", "who", "where", "did", "go", "the", "a", "park"]
# WordPiece vocabulary of 40 tokens, [MASK]-style specials (BERT, ELECTRA, ALBERT, DistilBERT).
BERT_VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
              + ["##s", "##ed", "##ing", "sun", "rain", "day", "night", "home", "school",
                 "is", "was", "and", "or", "in", "on", "at", "it", "he", "she", "we", "they",
                 "!", ".", ","])
# klue/roberta-style WordPiece vocabulary, but with RoBERTa's `<s>`-style specials: `<mask>`
# is a special token a `[NAME]`-only matcher would split.
ROBERTA_VOCAB = (["<s>", "<pad>", "</s>", "<unk>"] + WORDS + BERT_VOCAB[16:] + ["<mask>"])
BERT_TOKENIZER = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
ROBERTA_TOKENIZER = {"tokenizer_class": "BertTokenizer", "do_lower_case": True,
                     "cls_token": "<s>", "sep_token": "</s>", "pad_token": "<pad>",
                     "unk_token": "<unk>", "mask_token": "<mask>", "bos_token": "<s>",
                     "eos_token": "</s>"}
TEXTS = ["kim went to {m}.", "the {m} went to the {m}", "{m} park is the sun",
         "where did he go? {m}"]

# family: (config class, config kwargs, model class, tokenizer)
FAMILIES = {
    "bert": ("BertConfig", dict(SMALL, num_hidden_layers=2, hidden_act="gelu_new",
                                layer_norm_eps=1e-5),
             "BertForPreTraining", "bert"),
    "roberta": ("RobertaConfig", dict(SMALL, num_hidden_layers=2, type_vocab_size=1,
                                      pad_token_id=1, hidden_act="relu"),
                "RobertaForMaskedLM", "roberta"),
    "xlm_roberta": ("XLMRobertaConfig", dict(SMALL, num_hidden_layers=1, type_vocab_size=1,
                                             pad_token_id=1, hidden_act="gelu_new"),
                    "XLMRobertaForMaskedLM", "spm"),
    "electra": ("ElectraConfig", dict(SMALL, embedding_size=8, num_hidden_layers=2,
                                      hidden_act="relu"),
                "ElectraForMaskedLM", "bert"),
    "albert": ("AlbertConfig", dict(SMALL, embedding_size=8, num_hidden_layers=2,
                                    hidden_act="relu"),
               "AlbertForMaskedLM", "bert"),
    "distilbert": ("DistilBertConfig", dict(vocab_size=40, dim=16, n_heads=2, hidden_dim=32,
                                            n_layers=2, activation="relu",
                                            max_position_embeddings=24),
                   "DistilBertForMaskedLM", "bert"),
}
LENGTHS = (12, 7, 4)


def spm_model():
    """The XLM-R SentencePiece model of tests/test_family_qa.py (40 ids with `<mask>`),
    written with bertcls' own writer loaded by path (no tensorflow in this process)."""
    spec = importlib.util.spec_from_file_location(
        "spm_model", os.path.join(REPO, "bertcls", "text", "spm_model.py"))
    spm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spm)
    pieces = [("<unk>", 0.0, spm.UNKNOWN), ("<s>", 0.0, spm.CONTROL), ("</s>", 0.0, spm.CONTROL)]
    pieces += [("\u2581" + w, -float(i), spm.NORMAL) for i, w in enumerate(WORDS, 1)]
    pieces += [(c, -20.0 - i, spm.NORMAL) for i, c in enumerate("abcdefghijklmnopqrstuvwx")]
    return spm.write_model(pieces)


def write_tokenizer(directory, kind):
    if kind == "spm":
        with open(os.path.join(directory, "sentencepiece.bpe.model"), "wb") as f:
            f.write(spm_model())
        settings = {"tokenizer_class": "XLMRobertaTokenizer", "cls_token": "<s>",
                    "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
                    "mask_token": "<mask>", "model_max_length": 22}
    else:
        vocab = BERT_VOCAB if kind == "bert" else ROBERTA_VOCAB
        assert len(vocab) == 40 and len(set(vocab)) == 40, len(vocab)
        with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in vocab))
        settings = BERT_TOKENIZER if kind == "bert" else ROBERTA_TOKENIZER
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)


def inputs_for(config):
    rng = np.random.default_rng(1)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = rng.integers(3, config.vocab_size, size=(len(LENGTHS), max(LENGTHS))).astype(np.int32)
    ids[ids == pad] = pad + 3
    mask = (np.arange(max(LENGTHS))[None] < np.array(LENGTHS)[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, pad).astype(np.int32)
    types = np.zeros_like(ids)
    if getattr(config, "type_vocab_size", 1) > 1:
        types[0, 6:12] = 1
        types[1, 4:7] = 1
    return ids, mask, types


def make(family):
    config_name, kwargs, model_name, tokenizer = FAMILIES[family]
    config = getattr(transformers, config_name)(**kwargs)
    model = getattr(transformers, model_name)(config).eval()
    model.config._attn_implementation = "eager"
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("LayerNorm.weight", "layer_norm.weight", "_norm.weight")):
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            elif name.endswith("bias") and "embeddings" not in name and (
                    "predictions" in name or "lm_head" in name or "vocab_" in name):
                param.copy_(0.5 * torch.randn_like(param))
            else:
                param.copy_(0.3 * torch.randn_like(param))
    out_dir = os.path.join(HERE, f"mlm_{family}")
    model.save_pretrained(out_dir)
    write_tokenizer(out_dir, tokenizer)
    ids, mask, types = inputs_for(config)
    feed = dict(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long())
    if config_name != "DistilBertConfig":
        feed["token_type_ids"] = torch.tensor(types).long()
    with torch.no_grad():
        out = model(**feed)
    logits = (out.prediction_logits if hasattr(out, "prediction_logits") else out.logits).numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids,
                        attention_mask=mask, token_type_ids=types, logits=logits)
    # transformers 5 reads the SentencePiece model through protobuf (without it, it falls back
    # to tiktoken and fails): the reference environment pins protobuf.
    tok = transformers.AutoTokenizer.from_pretrained(out_dir)
    fill = transformers.pipeline("fill-mask", model=out_dir, tokenizer=tok, top_k=5)
    texts = [t.format(m=tok.mask_token) for t in TEXTS]
    results = [fill(text) for text in texts]
    with open(os.path.join(out_dir, "fill_mask.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": type(tok).__name__, "texts": texts, "results": results,
                   "ids": [tok(t)["input_ids"] for t in texts]},
                  f, indent=1, ensure_ascii=False)
    print(family, model_name, sorted(os.listdir(out_dir)), float(np.abs(logits).max()),
          type(tok).__name__)


if __name__ == "__main__":
    print("transformers", transformers.__version__, "torch", torch.__version__)
    for name in sys.argv[1:] or FAMILIES:
        make(name)
