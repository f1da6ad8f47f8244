"""Question answering on every family: transformers' `*ForQuestionAnswering` checkpoints
(RoBERTa, XLM-R, ELECTRA, ALBERT, DistilBERT; tests/golden/families_qa/make_qa_families.py) load
through `BertQuestionAnswerer.from_preset` with their `qa_outputs` head to the same logits,
`save_pretrained` writes them back under transformers' names, and transformers loads what it
writes to the same logits (checked in a subprocess with the reference venv; skipped without
it; tests/golden/families/check_task_pretrained.py). The XLM-R directory carries a
SentencePiece model, so its windows are XLM-R's `<s> q </s></s> c </s>`."""

import json
import os
import shutil

import numpy as np
import pytest

from bertcls import (AlbertBackbone, BertQuestionAnswerer, DistilBertBackbone,
                     ElectraBackbone, RobertaBackbone, SentencePieceEncoder,
                     XLMRobertaBackbone, encode_qa)
from bertcls.models.checkpoints import read_checkpoint
from bertcls.text.spm_model import CONTROL, NORMAL, UNKNOWN, write_model
from conftest import requires_refvenv
from test_family_tasks import check_in_transformers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES_DIR = os.path.join(REPO, "tests", "golden", "families")
QA_DIR = os.path.join(REPO, "tests", "golden", "families_qa")
FAMILIES = {"roberta": RobertaBackbone, "xlm_roberta": XLMRobertaBackbone,
            "electra": ElectraBackbone, "albert": AlbertBackbone,
            "distilbert": DistilBertBackbone}
WORDS = ["kim", "went", "to", "seoul", "who", "where", "did", "go", "the", "a", "park"]


def spm_model():
    """A unigram model whose XLM-R vocabulary has the checkpoints' 40 ids."""
    pieces = [("<unk>", 0.0, UNKNOWN), ("<s>", 0.0, CONTROL), ("</s>", 0.0, CONTROL)]
    pieces += [("\u2581" + w, -float(i), NORMAL) for i, w in enumerate(WORDS, 1)]
    pieces += [(c, -20.0 - i, NORMAL) for i, c in enumerate("abcdefghijklmnopqrstuvwx")]
    return write_model(pieces)  # 3 + 11 + 24 = 38 pieces -> 4 + 35 + 1 = 40 ids


def preset(tmp_path, family):
    """The golden QA checkpoint with a tokenizer: SentencePiece for XLM-R, WordPiece else."""
    directory = tmp_path / family
    shutil.copytree(os.path.join(QA_DIR, f"qa_{family}"), directory)
    (directory / "reference.npz").unlink()
    if family == "xlm_roberta":
        (directory / "sentencepiece.bpe.model").write_bytes(spm_model())
    else:
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
        vocab += [f"tok{i}" for i in range(40 - len(vocab))]
        (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return str(directory)


def reference(family):
    data = np.load(os.path.join(QA_DIR, f"qa_{family}", "reference.npz"))
    features = {k: data[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    return features, data["start_logits"], data["end_logits"]


def max_diff(logits, start, end, mask):
    mask = mask.astype(bool)
    return max(np.abs(logits[..., 0] - start)[mask].max(),
               np.abs(logits[..., 1] - end)[mask].max())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_transformers_qa_checkpoint_loads_and_saves_back(tmp_path, family):
    directory = preset(tmp_path, family)
    # strict=True: transformers' QA checkpoints have no pooler, which the span head never
    # reads, so strict accepts them.
    model = BertQuestionAnswerer.from_preset(directory, max_seq_len=16, strict=True)
    assert type(model.backbone) is FAMILIES[family]
    expected = "SentencePieceEncoder" if family == "xlm_roberta" else "FeatureEncoder"
    assert type(model.encoder).__name__ == expected
    features, start, end = reference(family)
    logits = np.asarray(model(features))
    difference = max_diff(logits, start, end, features["attention_mask"])
    print(f"{family}: max abs diff vs transformers {difference:.3g}")
    assert difference <= 1e-5 and np.abs(start).max() > 0.5

    saved = model.save_pretrained(str(tmp_path / "saved"))
    original, written = read_checkpoint(directory), read_checkpoint(saved)
    assert sorted(written) == sorted(original)  # <prefix>.* without a pooler, qa_outputs.*
    for name, value in original.items():
        np.testing.assert_array_equal(written[name], value, err_msg=name)
    config = json.loads(open(os.path.join(saved, "config.json")).read())
    assert config["architectures"] == json.loads(
        open(os.path.join(directory, "config.json")).read())["architectures"]
    again = BertQuestionAnswerer.from_preset(saved, max_seq_len=16)
    assert type(again.encoder) is type(model.encoder)
    np.testing.assert_array_equal(np.asarray(again(features)), logits)


def test_a_family_base_checkpoint_gets_a_new_span_head(tmp_path):
    directory = os.path.join(FAMILIES_DIR, "electra_bin")
    work = tmp_path / "electra"
    shutil.copytree(directory, work)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    (work / "vocab.txt").write_text("\n".join(vocab + [f"t{i}" for i in range(24)]) + "\n")
    model = BertQuestionAnswerer.from_preset(str(work), max_seq_len=12, strict=True)
    assert type(model.backbone) is ElectraBackbone
    assert float(np.abs(np.asarray(model.head.dense.bias)).max()) == 0.0  # new head


def test_xlm_roberta_windows_have_its_pair_layout():
    encoder = SentencePieceEncoder(spm_model(), max_seq_len=12)
    windows = encode_qa(encoder, ["who went"], ["kim went to seoul the park"],
                        [("seoul", 12)], doc_stride=1, max_question_len=4)
    ids = windows.features["input_ids"]
    # <s> who went </s></s> <6 context tokens> </s>: budget 12 - 2 - 4 = 6 context tokens.
    assert ids[0].tolist() == [0, 8, 5, 2, 2, 4, 5, 6, 7, 12, 14, 2]
    assert ids.shape[0] == 1 and not windows.features["token_type_ids"].any()
    assert windows.context_mask[0].tolist() == [False] * 5 + [True] * 6 + [False]
    first = 5
    label = windows.labels[0].tolist()
    assert label == [first + 3, first + 3]  # "▁seoul" is the fourth context token
    offsets = windows.offsets[0]
    assert offsets[1].tolist() == [0, 3] and offsets[first + 3].tolist() == [12, 17]


@requires_refvenv
def test_transformers_loads_qa_save_pretrained_to_the_same_logits(tmp_path):
    import keras

    entries = []
    for i, family in enumerate(sorted(FAMILIES)):
        model = BertQuestionAnswerer.from_preset(preset(tmp_path, family), max_seq_len=16)
        rng = np.random.default_rng(i)  # new values everywhere: what is written is ours
        for variable in model.weights:
            value = rng.normal(0, 0.2, size=tuple(variable.shape)).astype("float32")
            variable.assign(value + (1.0 if "gamma" in variable.path else 0.0))
        features, _, _ = reference(family)
        logits = keras.ops.convert_to_numpy(model(features))
        directory = model.save_pretrained(str(tmp_path / f"saved_{family}"))
        expected = str(tmp_path / f"{family}.npz")
        np.savez(expected, start_logits=logits[..., 0], end_logits=logits[..., 1], **features)
        entries.append({"directory": directory, "kind": "qa", "mode": "span",
                        "expected": expected, "family": family})
    results = check_in_transformers(entries, tmp_path)
    stems = {"roberta": "Roberta", "xlm_roberta": "XLMRoberta", "electra": "Electra",
             "albert": "Albert", "distilbert": "DistilBert"}
    for entry in entries:
        result = results[entry["directory"]]
        print(entry["family"], result)
        assert result["class"] == f"{stems[entry['family']]}ForQuestionAnswering", result
        assert result["problems"] == {}, result
        assert result["max_diff"] <= 1e-5, result
        tokenizer = ("XLMRobertaTokenizer" if entry["family"] == "xlm_roberta"
                     else "BertTokenizer")
        assert result["tokenizer"].startswith(tokenizer), result
