"""Task models on every backbone family: the family's classification head, one training
step, `from_preset` dispatch, and `save_pretrained` loading in transformers with the same
probabilities (checked in a subprocess with the reference venv; skipped without it)."""

import json
import logging
import os
import shutil

import keras
import numpy as np
import pytest
from conftest import EXAMPLES, requires_refvenv, run_example, run_reference

from bertcls import (AlbertBackbone, BertBackbone, BertClassifier, BertHead, BertRegressor,
                     BertTagger, DistilBertBackbone, ElectraBackbone, FeatureEncoder,
                     RobertaBackbone, XLMRobertaBackbone, backbone_from_preset)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES_DIR = os.path.join(REPO, "tests", "golden", "families")
CHECK_SCRIPT = os.path.join(FAMILIES_DIR, "check_task_pretrained.py")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "kim", "went",
         "to", "seoul", "##s", "the", "a"]
TINY = dict(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_size=8,
            intermediate_size=16)
BUILDERS = {
    "bert": lambda: BertBackbone(**TINY),
    "roberta": lambda: RobertaBackbone(**TINY, max_sequence_length=20, pad_token_id=0),
    "xlm-roberta": lambda: XLMRobertaBackbone(**TINY, max_sequence_length=20, pad_token_id=0,
                                              type_vocab_size=2),
    "electra": lambda: ElectraBackbone(**TINY, embedding_size=4),
    "albert": lambda: AlbertBackbone(**TINY, embedding_size=4),
    "distilbert": lambda: DistilBertBackbone(**TINY, hidden_act="relu"),
}
# family -> (pooling, hidden activation) of transformers' sequence-classification head.
HEADS = {"bert": ("pooled", None), "albert": ("pooled", None), "roberta": ("cls", "tanh"),
         "xlm-roberta": ("cls", "tanh"), "electra": ("cls", "gelu"),
         "distilbert": ("cls", "relu")}
TEXTS = ["good movie", "bad movies", "kim went to seoul", "the movie"]


@pytest.fixture(scope="module")
def encoder():
    return FeatureEncoder(VOCAB, max_seq_len=8, padding="longest")


def features(encoder, texts=TEXTS):
    return {k: np.asarray(v) for k, v in encoder(texts).items()}


def probabilities(model, x):
    """Eager forward pass (tracing `predict` for a dozen tiny models costs more than it saves)."""
    return keras.ops.convert_to_numpy(model(x))


def randomize(model, seed=0):
    """Random values in every variable (LayerNorms, biases, heads), so a weight written
    under the wrong name or transposed cannot agree by accident."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0, 0.3, size=tuple(variable.shape)).astype("float32")
        if "gamma" in variable.path:
            value += 1.0
        variable.assign(value)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_head_and_one_training_step(family, encoder):
    keras.utils.set_random_seed(0)
    classifier = BertClassifier(BUILDERS[family](), num_classes=3, encoder=encoder)
    pooling, hidden = HEADS[family]
    assert (classifier.head.pooling, classifier.head.hidden_activation) == (pooling, hidden)
    assert classifier.pooling == pooling
    x = features(encoder)
    # Eager: a real gradient step without minutes of graph tracing on a loaded CPU.
    classifier.compile(run_eagerly=True)
    history = classifier.fit(x, np.array([0, 1, 2, 1]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    tagger = BertTagger(BUILDERS[family](), tags=["O", "B-PS", "I-PS"], encoder=encoder)
    tagger.compile(run_eagerly=True)
    labels = np.where(x["attention_mask"] == 1, 0, -100)
    labels[2, 1] = 1
    before = [v.numpy().copy() for v in tagger.backbone.trainable_weights]
    history = tagger.fit(x, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = tagger.backbone.trainable_weights
    assert any(np.abs(a.numpy() - b).max() > 0 for a, b in zip(after, before))


def test_head_choice_errors():
    with pytest.raises(ValueError, match="pooling='pooled' needs a backbone with a pooler; "
                                         "ElectraBackbone has none"):
        BertClassifier(BUILDERS["electra"](), pooling="pooled")
    # An explicit pooling gives a plain head on any family.
    plain = BertClassifier(BUILDERS["roberta"](), pooling="mean")
    assert plain.head.hidden_activation is None
    with pytest.raises(ValueError, match="hidden_activation"):
        BertHead(hidden_activation="swish")


def test_family_classifier_keras_round_trip(tmp_path, encoder):
    model = BertClassifier(BUILDERS["electra"](), num_classes=2, encoder=encoder)
    model.compile()
    path = str(tmp_path / "electra.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.backbone) is ElectraBackbone
    assert loaded.head.hidden_activation == "gelu"
    x = features(encoder)
    np.testing.assert_allclose(probabilities(loaded, x), probabilities(model, x), atol=1e-6)


def preset_dir(tmp_path, variant):
    """A golden family checkpoint with a WordPiece vocabulary beside it."""
    directory = tmp_path / variant
    shutil.copytree(os.path.join(FAMILIES_DIR, variant), directory)
    config = json.loads((directory / "config.json").read_text())
    vocab = VOCAB + [f"tok{i}" for i in range(config["vocab_size"] - len(VOCAB))]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return str(directory)


@pytest.mark.parametrize("variant, cls", [("electra_bin", ElectraBackbone),
                                          ("distilbert_safetensors", DistilBertBackbone)])
def test_task_from_preset_dispatches(tmp_path, variant, cls):
    directory = preset_dir(tmp_path, variant)
    classifier = BertClassifier.from_preset(directory, num_classes=2, max_seq_len=8)
    tagger = BertTagger.from_preset(directory, tags=["O", "B-LC"], max_seq_len=8)
    assert type(classifier.backbone) is cls and type(tagger.backbone) is cls
    assert classifier.head.hidden_activation is not None
    x = features(classifier.encoder, ["good movie", "bad"])
    assert probabilities(classifier, x).shape == (2, 1)


def test_nsmc_example_with_an_electra_preset(tmp_path):
    # The NSMC example's --preset path on a non-BERT family: the tiny ELECTRA checkpoint
    # (embedding projection, no pooler) with a WordPiece vocabulary, local data.
    directory = preset_dir(tmp_path, "electra_bin")
    result = run_example("nsmc_sentiment.py", "--data-dir", str(EXAMPLES / "data" / "nsmc_quick"),
                         "--preset", directory, "--limit", "64", "--epochs", "1",
                         "--max-seq-len", "16", "--no-progress", tmp_path=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "backbone:       ElectraBackbone" in out
    assert "test loss, test acc:" in out and out.count("확률로") == 4


# === save_pretrained -> transformers ===

# classifier mode -> (num_classes, multi_label, label names; None: unnamed, LABEL_0, ...)
CLASSIFIER_MODES = {"binary": (2, False, ["부정", "긍정"]), "multiclass": (3, False, None),
                    "multilabel": (3, True, ["joy", "anger", "fear"])}
KINDS = tuple(CLASSIFIER_MODES) + ("regression", "token")


def build_task(family, kind, encoder):
    """One task model of `kind` (a classifier mode, "regression" or "token") on `family`."""
    if kind in CLASSIFIER_MODES:
        num_classes, multi_label, labels = CLASSIFIER_MODES[kind]
        return BertClassifier(BUILDERS[family](), num_classes=num_classes,
                              multi_label=multi_label, encoder=encoder, labels=labels), kind
    if kind == "regression":
        return BertRegressor(BUILDERS[family](), encoder=encoder), "regression"
    return BertTagger(BUILDERS[family](), tags=["O", "B-PS", "I-PS", "B-LC"], encoder=encoder,
                      level="word" if family in ("bert", "electra") else "char"), "tags"


@pytest.fixture(scope="module")
def saved(tmp_path_factory, encoder):
    """Save a binary, a multi-class and a multi-label classifier, a regressor and a tagger
    per family (every weight random); return the manifest entries."""
    tmp_path = tmp_path_factory.mktemp("saved")
    x = features(encoder)
    entries = []
    for family in BUILDERS:
        for kind in KINDS:
            model, mode = build_task(family, kind, encoder)
            randomize(model, seed=len(entries))
            directory = str(tmp_path / f"{family}_{kind}")
            model.save_pretrained(directory)
            expected = str(tmp_path / f"{family}_{kind}.npz")
            np.savez(expected, probabilities=probabilities(model, x), **x)
            entries.append({"directory": directory, "expected": expected, "mode": mode,
                            "kind": "token" if kind == "token" else "sequence",
                            "family": family, "class": type(model).__name__,
                            "labels": getattr(model, "labels", getattr(model, "tags", None)),
                            "level": getattr(model, "level", None)})
    return entries


def test_save_pretrained_round_trips_through_from_preset(saved, caplog):
    """save_pretrained -> from_preset with no task argument: the same outputs, label names,
    head kind and encoder length, and a load that needs no warning."""
    caplog.set_level(logging.WARNING, logger="bertcls.models.checkpoints")
    classes = {"BertClassifier": BertClassifier, "BertRegressor": BertRegressor,
               "BertTagger": BertTagger}
    for entry in saved:
        model = classes[entry["class"]].from_preset(entry["directory"])
        data = np.load(entry["expected"])
        x = {k: data[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        np.testing.assert_allclose(probabilities(model, x), data["probabilities"], atol=1e-6,
                                   err_msg=entry["directory"])
        assert model.encoder.max_seq_len == 8
        if entry["class"] == "BertClassifier":
            assert model.labels == entry["labels"]
            assert model.binary == (entry["mode"] == "binary")
            assert model.multi_label == (entry["mode"] == "multilabel")
        elif entry["class"] == "BertTagger":
            assert model.tags == entry["labels"] and model.level == entry["level"]
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_round_trip_after_training_predicts_the_same_labels(tmp_path, encoder):
    """The issue's path: fit on a few rows, save_pretrained, from_preset, same predictions."""
    model = BertClassifier(BUILDERS["electra"](), labels=["부정", "긍정"], encoder=encoder)
    model.compile(run_eagerly=True)
    model.fit(features(encoder), np.array([1, 0, 1, 0]), epochs=2, verbose=0)
    loaded = BertClassifier.from_preset(model.save_pretrained(str(tmp_path / "nsmc")))
    before, after = model.predict_texts(TEXTS), loaded.predict_texts(TEXTS)
    assert list(after["labels"]) == list(before["labels"])
    assert set(after["labels"]) <= {"부정", "긍정"}
    np.testing.assert_allclose(after["probabilities"], before["probabilities"], atol=1e-6)


def test_save_pretrained_files_and_config(saved):
    for entry in saved:
        config = json.loads(open(os.path.join(entry["directory"], "config.json")).read())
        assert config["model_type"] == entry["family"]
        kind = "Sequence" if entry["kind"] == "sequence" else "Token"
        assert config["architectures"][0].endswith(f"For{kind}Classification")
        if entry["mode"] == "binary":
            assert config["id2label"] == {"0": "부정", "1": "긍정"}
            assert config["bertcls"]["binary"] is True
        if entry["mode"] == "regression":
            assert config["problem_type"] == "regression" and len(config["id2label"]) == 1
        if entry["kind"] == "token":
            assert config["id2label"]["1"] == "B-PS"
        assert (config.get("problem_type") == "multi_label_classification") == (
            entry["mode"] == "multilabel")
        # The backbone reads back from the task directory (the head is skipped).
        backbone = backbone_from_preset(entry["directory"])
        assert backbone.model_type == entry["family"]
        for name in ("vocab.txt", "tokenizer_config.json", "model.safetensors"):
            assert os.path.exists(os.path.join(entry["directory"], name)), name


def test_save_pretrained_refuses_what_transformers_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="RobertaForSequenceClassification reads "
                                         "pooling='cls'.*pooling='mean'"):
        BertClassifier(BUILDERS["roberta"](), pooling="mean").save_pretrained(str(tmp_path))
    custom = keras.layers.Dense(1, name="custom")

    class Head(keras.layers.Layer):
        def call(self, inputs):
            return keras.ops.sigmoid(custom(inputs["sequence_output"][:, 0]))

    with pytest.raises(ValueError, match="BertHead only"):
        BertClassifier(BUILDERS["bert"](), head=Head()).save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="`labels` must be 2 strings"):
        BertClassifier(BUILDERS["bert"]()).save_pretrained(str(tmp_path), labels=["a"])


def check_in_transformers(entries, tmp_path):
    """Run check_task_pretrained.py on `entries` in the reference venv; its results."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(entries))
    proc = run_reference(CHECK_SCRIPT, manifest)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[0][len("RESULT"):])


@requires_refvenv
def test_save_pretrained_loads_in_transformers(tmp_path, saved):
    entries = saved
    results = check_in_transformers(entries, tmp_path)
    stems = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta",
             "electra": "Electra", "albert": "Albert", "distilbert": "DistilBert"}
    for entry in entries:
        result = results[entry["directory"]]
        kind = "Sequence" if entry["kind"] == "sequence" else "Token"
        assert result["class"] == f"{stems[entry['family']]}For{kind}Classification", result
        if entry["labels"] is not None:
            assert list(result["id2label"].values()) == entry["labels"], result
        assert result["problems"] == {}, (entry["directory"], result)
        assert result["max_diff"] <= 1e-5, (entry["directory"], result)


def test_strict_refuses_a_missing_pooler_only_where_the_head_reads_it(tmp_path, caplog):
    from bertcls import BertQuestionAnswerer, BertRegressor, CheckpointError

    directory = preset_dir(tmp_path, "roberta_relu_bin")  # RobertaForMaskedLM: no pooler
    with pytest.raises(CheckpointError, match="no pooler weights"):
        RobertaBackbone.from_preset(directory, strict=True)
    with pytest.raises(CheckpointError, match="no pooler weights"):
        BertClassifier.from_preset(directory, pooling="pooled", strict=True, max_seq_len=8)
    with pytest.raises(CheckpointError, match="no pooler weights"):
        BertRegressor.from_preset(directory, pooling="pooled", strict=True, max_seq_len=8)
    caplog.set_level("WARNING", logger="bertcls.models.checkpoints")
    models = [BertClassifier.from_preset(directory, strict=True, max_seq_len=8),
              BertClassifier.from_preset(directory, pooling="mean", strict=True, max_seq_len=8),
              BertTagger.from_preset(directory, num_tags=3, strict=True, max_seq_len=8),
              BertRegressor.from_preset(directory, strict=True, max_seq_len=8),
              BertQuestionAnswerer.from_preset(directory, strict=True, max_seq_len=8)]
    assert all(type(m.backbone) is RobertaBackbone for m in models)
    assert models[0].head.pooling == "cls" and models[3].head.hidden_activation == "tanh"
    assert not [r for r in caplog.records if "pooler" in r.getMessage()]


def family_preset(tmp_path, family):
    """A tiny pretrained-style directory of `family` with its usual tokenizer files:
    WordPiece for BERT / RoBERTa / DistilBERT, SentencePiece for XLM-R and ALBERT."""
    from bertcls.text.spm_model import CONTROL, NORMAL, UNKNOWN, write_model

    directory = tmp_path / family
    words = ["영화", "최고", "재미", "없다", "정말", "좋", "다", "."]
    if family == "xlm-roberta":
        from test_family_qa import spm_model
        model = spm_model()
        XLMRobertaBackbone(vocabulary_size=40, num_layers=1, num_heads=2, hidden_size=8,
                           intermediate_size=16, max_sequence_length=24).save_pretrained(
                               str(directory))
        (directory / "sentencepiece.bpe.model").write_bytes(model)
    elif family == "albert":
        pieces = [("<pad>", 0.0, CONTROL), ("<unk>", 0.0, UNKNOWN), ("[CLS]", 0.0, CONTROL),
                  ("[SEP]", 0.0, CONTROL), ("[MASK]", 0.0, CONTROL)]
        pieces += [("\u2581" + w, -float(i), NORMAL) for i, w in enumerate(words, 1)]
        pieces += [(c, -10.0 - i, NORMAL) for i, c in enumerate("ᄀᄂᄃᄅᄆᄋᄌᄎ")]
        AlbertBackbone(vocabulary_size=len(pieces), num_layers=2, num_heads=2, hidden_size=8,
                       intermediate_size=16, embedding_size=4).save_pretrained(str(directory))
        (directory / "spiece.model").write_bytes(write_model(pieces))
    else:
        BUILDERS[family]().save_pretrained(str(directory), encoder=FeatureEncoder(VOCAB))
    return str(directory)


@pytest.mark.parametrize("family", [
    "xlm-roberta", "albert",  # the SentencePiece tokenizers; WordPiece runs with ELECTRA above
    pytest.param("bert", marks=pytest.mark.slow), pytest.param("roberta", marks=pytest.mark.slow),
    pytest.param("distilbert", marks=pytest.mark.slow)])
def test_nsmc_example_with_each_family_preset(tmp_path, family, capsys, monkeypatch):
    # In-process (one TensorFlow start for all five); ELECTRA runs as a subprocess above.
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(EXAMPLES))
    example = importlib.import_module("nsmc_sentiment")
    directory = family_preset(tmp_path, family)
    monkeypatch.setenv("BERTCLS_CACHE", str(tmp_path / "cache"))
    code = example.main(["--data-dir", str(EXAMPLES / "data" / "nsmc_quick"),
                         "--preset", directory, "--limit", "32", "--epochs", "1",
                         "--max-seq-len", "16", "--no-progress"])
    out = capsys.readouterr().out
    assert code in (None, 0), out[-2000:]
    expected = {"bert": "BertBackbone", "roberta": "RobertaBackbone",
                "xlm-roberta": "XLMRobertaBackbone", "albert": "AlbertBackbone",
                "distilbert": "DistilBertBackbone"}[family]
    assert f"backbone:       {expected}" in out
    assert "test loss, test acc:" in out and out.count("확률로") == 4
    assert "nsmc_sentiment" in sys.modules
