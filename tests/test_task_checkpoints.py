"""Fine-tuned Hugging Face checkpoints in: every family's sequence-classification (single-label,
2-label, multi-label, regression) and token-classification checkpoint made by transformers
(tests/golden/families_tasks, made once by make_task_families.py) loads with `from_preset(dir)`
alone, head and label names included, to transformers' outputs; wrong task classes, task
arguments that disagree with the head, and `new_head`; the weight report and `strict`."""

import json
import logging
import os
import shutil

import keras
import numpy as np
import pytest

from bertcls import (BertClassifier, BertQuestionAnswerer, BertRegressor, BertTagger,
                     CheckpointError, backbone_from_preset)
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "tests", "golden", "families_tasks")
FAMILIES = ("bert", "roberta", "xlm_roberta", "electra", "albert", "distilbert")
CASES = ("single", "pair2", "multilabel", "regression", "token")
# case -> (class, label names transformers wrote; None: its defaults LABEL_0, ...)
EXPECTED = {
    "single": (BertClassifier, ["부정", "중립", "긍정"]),
    "pair2": (BertClassifier, None),
    "multilabel": (BertClassifier, ["joy", "anger", "fear", "love"]),
    "regression": (BertRegressor, None),
    "token": (BertTagger, ["O", "B-PS", "I-PS", "B-LC", "I-LC"]),
}
TOLERANCE = 1e-5
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"tok{i}" for i in range(35)]


def checkpoint(tmp_path, family, case):
    """A copy of the golden checkpoint with a WordPiece vocabulary beside it."""
    directory = os.path.join(str(tmp_path), f"{family}_{case}")
    if not os.path.exists(directory):
        shutil.copytree(os.path.join(GOLDEN, f"{family}_{case}"), directory)
        with open(os.path.join(directory, "vocab.txt"), "w") as f:
            f.write("\n".join(VOCAB) + "\n")
    return directory


def transformers_outputs(case, logits):
    """What bertcls gives for transformers' logits: softmax, sigmoid or the logits."""
    if case == "multilabel":
        return 1 / (1 + np.exp(-logits))
    if case == "regression":
        return logits
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def parity(tmp_path, family, case):
    """(max |bertcls - transformers|, the model) for one golden checkpoint."""
    cls, _ = EXPECTED[case]
    model = cls.from_preset(checkpoint(tmp_path, family, case), max_seq_len=16)
    data = np.load(os.path.join(GOLDEN, f"{family}_{case}", "reference.npz"))
    features = {k: data[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    ours = keras.ops.convert_to_numpy(model(features))
    difference = np.abs(ours - transformers_outputs(case, data["logits"]))
    if case == "token":
        difference = np.where(data["attention_mask"][..., None] == 1, difference, 0)
    return float(difference.max()), model


@pytest.mark.parametrize("family", FAMILIES)
def test_transformers_task_checkpoints_load_with_their_heads(tmp_path, family, caplog):
    caplog.set_level(logging.INFO, logger="bertcls.models.checkpoints")
    for case in CASES:
        difference, model = parity(tmp_path, family, case)
        assert difference <= TOLERANCE, (family, case, difference)
        cls, names = EXPECTED[case]
        assert type(model) is cls
        if cls is BertClassifier:
            assert model.labels == names
            assert model.multi_label == (case == "multilabel")
            assert not model.binary  # a 2-label checkpoint keeps its 2-unit softmax
            assert model.num_classes == {"single": 3, "pair2": 2, "multilabel": 4}[case]
        elif cls is BertTagger:
            assert model.tags == names
        else:
            assert model.num_outputs == 1
    # Nothing was newly initialised or left unexplained: no warning on these loads.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings, warnings


def test_labels_drive_predictions(tmp_path):
    classifier = BertClassifier.from_preset(checkpoint(tmp_path, "electra", "single"),
                                            max_seq_len=16)
    result = classifier.predict_texts(["tok3 tok4", "tok9"])
    assert set(result["labels"]) <= {"부정", "중립", "긍정"}
    assert result["probabilities"].shape == (2, 3)
    label, _ = classifier.predict_text("tok5 tok6")
    assert label in ("부정", "중립", "긍정")
    # The default names mean none: class ids, as for a model built without labels.
    pair = BertClassifier.from_preset(checkpoint(tmp_path, "bert", "pair2"), max_seq_len=16)
    assert pair.labels is None
    assert pair.predict_texts(["tok3"])["probabilities"].shape == (1, 2)


@pytest.mark.parametrize("case, cls, right", [
    ("single", BertTagger, "BertClassifier"),
    ("token", BertClassifier, "BertTagger"),
    ("regression", BertClassifier, "BertRegressor"),
    ("multilabel", BertRegressor, "BertClassifier"),
    ("token", BertQuestionAnswerer, "BertTagger"),
])
def test_a_checkpoint_of_another_task_is_a_clear_error(tmp_path, case, cls, right):
    directory = checkpoint(tmp_path, "roberta", case)
    with pytest.raises(ValueError, match=f"RobertaFor.*{right}.from_preset loads; "
                                         f"{cls.__name__} cannot use its head.*new_head=True"):
        cls.from_preset(directory, max_seq_len=16)
    # Asked for, a new head on the checkpoint's backbone is fine.
    model = cls.from_preset(directory, max_seq_len=16, new_head=True,
                            **({"num_tags": 3} if cls is BertTagger else {}))
    assert type(model) is cls


def test_task_arguments_that_disagree_with_the_head(tmp_path, caplog):
    directory = checkpoint(tmp_path, "distilbert", "single")
    with pytest.raises(ValueError, match=r"num_classes=5 disagrees with the checkpoint's "
                                         r"DistilBertForSequenceClassification head "
                                         r"\(single_label_classification, 3 labels: 부정"):
        BertClassifier.from_preset(directory, num_classes=5, max_seq_len=16)
    with pytest.raises(ValueError, match="multi_label=True"):
        BertClassifier.from_preset(directory, multi_label=True, max_seq_len=16)
    with pytest.raises(ValueError, match="tags=.*num_tags=2 disagree"):
        BertTagger.from_preset(checkpoint(tmp_path, "bert", "token"), num_tags=2,
                               max_seq_len=16)
    # Restating the head's size keeps it; new names of the same count replace the labels.
    same, model = parity(tmp_path, "distilbert", "single")
    restated = BertClassifier.from_preset(directory, num_classes=3, max_seq_len=16,
                                          labels=["neg", "neu", "pos"])
    x = {k: np.load(os.path.join(GOLDEN, "distilbert_single", "reference.npz"))[k]
         for k in ("input_ids", "attention_mask", "token_type_ids")}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restated(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-6)
    assert restated.labels == ["neg", "neu", "pos"]
    # new_head: a new head, said in one record that names the replaced head.
    caplog.set_level(logging.INFO, logger="bertcls.models.checkpoints")
    caplog.clear()
    fresh = BertClassifier.from_preset(directory, num_classes=5, new_head=True, max_seq_len=16)
    assert fresh.num_classes == 5 and fresh.labels is None
    records = [r.getMessage() for r in caplog.records]
    assert len(records) == 1, records
    assert ("the checkpoint's DistilBertForSequenceClassification head, replaced by a new one"
            in records[0])
    assert "pre_classifier.weight" in records[0] and "classifier_head/dense/kernel" in records[0]


def add_tensor(directory, name, value):
    from safetensors.numpy import load_file, save_file

    path = os.path.join(directory, "model.safetensors")
    tensors = load_file(path)
    tensors[name] = value
    save_file(tensors, path, metadata={"format": "pt"})


def test_unused_tensors_are_reported_and_refused_under_strict(tmp_path, caplog):
    directory = checkpoint(tmp_path, "electra", "single")
    add_tensor(directory, "classifier.extra.weight", np.ones((2, 2), np.float32))
    caplog.set_level(logging.INFO, logger="bertcls.models.checkpoints")
    model = BertClassifier.from_preset(directory, max_seq_len=16)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "classifier.extra.weight" in warnings[0], warnings
    assert "not part of the ElectraForSequenceClassification head" in warnings[0]
    assert model.labels == ["부정", "중립", "긍정"]
    with pytest.raises(CheckpointError, match=r"strict=True.*classifier\.extra\.weight"):
        BertClassifier.from_preset(directory, max_seq_len=16, strict=True)
    # A backbone alone names the task head as expected, at INFO, never as a problem.
    caplog.clear()
    backbone_from_preset(directory, strict=True)
    records = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert len(records) == 1 and records[0][0] == logging.INFO, records
    assert "a task head, not part of a backbone (expected)" in records[0][1]


def test_missing_head_tensors_are_newly_initialised_with_a_warning(tmp_path, caplog):
    from safetensors.numpy import load_file, save_file

    directory = checkpoint(tmp_path, "bert", "token")
    path = os.path.join(directory, "model.safetensors")
    tensors = load_file(path)
    del tensors["classifier.bias"]
    save_file(tensors, path, metadata={"format": "pt"})
    caplog.set_level(logging.WARNING, logger="bertcls.models.checkpoints")
    BertTagger.from_preset(directory, max_seq_len=16)
    assert any("newly initialised" in r.getMessage() and "classifier.bias" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(CheckpointError, match="classifier.bias"):
        BertTagger.from_preset(directory, max_seq_len=16, strict=True)


def test_a_head_of_the_wrong_shape_is_refused(tmp_path):
    directory = checkpoint(tmp_path, "albert", "multilabel")
    config_path = os.path.join(directory, "config.json")
    config = json.load(open(config_path))
    config["id2label"] = {"0": "a", "1": "b"}  # 2 labels, the weights hold 4
    config["label2id"] = {"a": 0, "b": 1}
    json.dump(config, open(config_path, "w"))
    with pytest.raises(CheckpointError, match=r"classifier.weight: checkpoint \(4, 16\), "
                                              r"expected \(2, 16\)"):
        BertClassifier.from_preset(directory, max_seq_len=16)


@pytest.mark.parametrize("change, message", [
    ({"architectures": "BertForSequenceClassification"}, "`architectures` must be"),
    ({"id2label": {"0": "a", "2": "b"}}, "`id2label` keys must be the ids 0..1"),
    ({"id2label": {"0": "a", "1": "a"}}, "distinct non-empty strings"),
    ({"problem_type": "ranking"}, "`problem_type` must be one of"),
    ({"bertcls": {"binary": "yes"}}, "`bertcls.binary` has the wrong type"),
])
def test_untrusted_task_config_values_are_checked(tmp_path, change, message):
    directory = checkpoint(tmp_path, "bert", "pair2")
    config_path = os.path.join(directory, "config.json")
    config = json.load(open(config_path))
    config.update(change)
    json.dump(config, open(config_path, "w"))
    with pytest.raises(CheckpointError, match=message):
        BertClassifier.from_preset(directory, max_seq_len=16)


JAX_TASK_PARITY = """
import json, sys
import keras
assert keras.backend.backend() == "jax"
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/tests")
from test_task_checkpoints import FAMILIES, CASES, parity
result = {f"{family}_{case}": parity(sys.argv[2], family, case)[0]
          for family, case in zip(FAMILIES, CASES + CASES[:1])}
print("RESULT" + json.dumps(result))
"""


@pytest.mark.jax
def test_task_checkpoints_on_jax_backend(tmp_path):
    proc = warm_run("jax", ["-c", JAX_TASK_PARITY, REPO, str(tmp_path)], timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    assert len(results) == len(FAMILIES)  # each family, a different head kind each
    for name, difference in results.items():
        assert difference <= TOLERANCE, (name, difference)


def test_a_task_load_resolves_and_reads_the_preset_once(tmp_path, monkeypatch):
    """One natural path: the preset is resolved once, config.json and the weights read once,
    for the backbone, the head and the encoder together."""
    import bertcls.models.checkpoint_files as files
    import bertcls.models.config as config_module

    counts = {"resolve": 0, "tensors": 0, "config": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(files, "resolve_preset", counting("resolve", files.resolve_preset))
    monkeypatch.setattr(files, "read_checkpoint", counting("tensors", files.read_checkpoint))
    read_json = config_module.read_json_object
    monkeypatch.setattr(files, "read_json_object", counting("config", read_json))
    import bertcls.text.presets as text_presets

    text_json = text_presets._read_json
    monkeypatch.setattr(text_presets, "_read_json", lambda path: counting(
        "config" if path.endswith("config.json") and "tokenizer" not in path else "other",
        text_json)(path))
    counts["other"] = 0
    directory = checkpoint(tmp_path, "roberta", "token")
    BertTagger.from_preset(directory, max_seq_len=16)
    assert counts == {"resolve": 1, "tensors": 1, "config": 1, "other": 1}  # + tokenizer
