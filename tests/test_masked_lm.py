"""Masked language modelling on every family: transformers' masked-LM checkpoints
(tests/golden/families_mlm/make_mlm_families.py: `BertForPreTraining`, `RobertaForMaskedLM`,
`XLMRobertaForMaskedLM`, `ElectraForMaskedLM` (generator, embedding 8 != hidden 16),
`AlbertForMaskedLM`, `DistilBertForMaskedLM`) load through `BertMaskedLM.from_preset` with
their head to the same logits on TensorFlow and JAX, `save_pretrained` writes what
`AutoModelForMaskedLM` loads to the same logits, and `fill_mask` gives the fill-mask
pipeline's answers."""

import json
import logging
import os
import shutil

import keras
import numpy as np
import pytest

from bertcls import (AlbertBackbone, BertBackbone, BertMaskedLM, CheckpointError,
                     DistilBertBackbone, ElectraBackbone, FeatureEncoder, RobertaBackbone,
                     XLMRobertaBackbone)
from bertcls.models.checkpoints import read_checkpoint
from bertcls.tasks.mlm_head import read_mlm_head
from conftest import requires_refvenv, run_reference
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLM_DIR = os.path.join(REPO, "tests", "golden", "families_mlm")
FAMILIES_DIR = os.path.join(REPO, "tests", "golden", "families")
FAMILIES = {"bert": BertBackbone, "roberta": RobertaBackbone,
            "xlm_roberta": XLMRobertaBackbone, "electra": ElectraBackbone,
            "albert": AlbertBackbone, "distilbert": DistilBertBackbone}
PIPELINE_FAMILIES = ("bert", "roberta", "xlm_roberta", "electra", "albert", "distilbert")
TOLERANCE = 1e-4
BERT_VOCAB = os.path.join(MLM_DIR, "mlm_bert", "vocab.txt")


def golden(family):
    return os.path.join(MLM_DIR, f"mlm_{family}")


def reference(family):
    data = np.load(os.path.join(golden(family), "reference.npz"))
    return {k: data[k] for k in ("input_ids", "attention_mask", "token_type_ids")}, data["logits"]


def max_diff(model, family):
    features, expected = reference(family)
    logits = keras.ops.convert_to_numpy(model(features))
    mask = features["attention_mask"].astype(bool)
    return float(np.abs(logits - expected)[mask].max())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_transformers_masked_lm_checkpoint_loads_with_its_head(family):
    model = BertMaskedLM.from_preset(golden(family), max_seq_len=16, strict=True)
    assert type(model.backbone) is FAMILIES[family]
    difference = max_diff(model, family)
    print(f"{family}: max abs logit diff vs transformers {difference:.3g}")
    assert difference <= TOLERANCE
    assert np.abs(reference(family)[1]).max() > 1.0  # the comparison is not of zeros


JAX_PARITY = """
import json, sys
import keras
assert keras.backend.backend() == "jax"
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/tests")
from tests.test_masked_lm import FAMILIES, golden, max_diff
import numpy as np
from bertcls import BertMaskedLM, make_mlm_dataset
result = {f: max_diff(BertMaskedLM.from_preset(golden(f), max_seq_len=16), f) for f in FAMILIES}
# Training on JAX: the tf.data masking pipeline feeds a JAX fit.
model = BertMaskedLM.from_preset(golden("electra"), max_seq_len=16)
model.compile()
history = model.fit(make_mlm_dataset(["kim went to seoul", "the park"] * 8, model.encoder,
                                     batch_size=8, seed=0), epochs=1, verbose=0)
result["fit_loss"] = float(history.history["loss"][-1])
print("RESULT" + json.dumps(result))
"""


@pytest.mark.jax
def test_parity_on_jax_backend():
    proc = warm_run("jax", ["-c", JAX_PARITY, REPO], timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    print(results)
    loss = results.pop("fit_loss")
    assert set(results) == set(FAMILIES)
    assert max(results.values()) <= TOLERANCE, results
    assert np.isfinite(loss) and loss > 0


def test_head_names_consumed_per_family():
    used = {f: read_mlm_head(FAMILIES[f], read_checkpoint(golden(f)))[1] for f in FAMILIES}
    assert used["bert"] == ["cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias",
                            "cls.predictions.transform.LayerNorm.weight",
                            "cls.predictions.transform.dense.bias",
                            "cls.predictions.transform.dense.weight"]
    assert used["electra"][0] == "generator_lm_head.bias"
    assert all(len(names) == 5 for names in used.values()), used
    _, _, ignored = read_mlm_head(BertBackbone, read_checkpoint(golden("bert")))
    assert ignored == ["cls.seq_relationship.bias", "cls.seq_relationship.weight"]
    # Older checkpoints store the tied decoder (and its bias alias): consumed too.
    values, used, ignored = read_mlm_head(
        AlbertBackbone, read_checkpoint(os.path.join(FAMILIES_DIR, "albert_relu_bin")))
    assert "predictions.decoder.weight" in used and "predictions.decoder.bias" in used
    assert "decoder.weight" in values and ignored[0].startswith("sop_classifier.")


def test_bert_pretraining_checkpoint_notes_the_ignored_next_sentence_head(caplog):
    # The load's one report (WeightReport) names the next-sentence head as an expected unused
    # pre-training head, at INFO, and nothing of the masked-LM head, which the model uses.
    with caplog.at_level(logging.INFO, logger="bertcls.models.checkpoints"):
        BertMaskedLM.from_preset(golden("bert"), strict=True)
    notes = [(r.levelno, r.getMessage()) for r in caplog.records
             if r.name == "bertcls.models.checkpoints"]
    assert len(notes) == 1 and notes[0][0] == logging.INFO, notes
    assert "cls.seq_relationship.weight" in notes[0][1] and "pre-training head" in notes[0][1]
    assert "cls.predictions" not in notes[0][1]


def with_vocab(tmp_path, name):
    directory = tmp_path / name
    shutil.copytree(os.path.join(FAMILIES_DIR, name), directory)
    shutil.copy(BERT_VOCAB, directory / "vocab.txt")
    return str(directory)


@pytest.mark.parametrize("name", ["albert_relu_bin", "roberta_relu_bin",
                                  "distilbert_sinusoidal_bin"])
def test_legacy_checkpoints_with_a_stored_decoder_load_strictly(tmp_path, name):
    # .bin files with legacy LayerNorm.gamma names and the tied decoder stored: the decoder
    # equals the word embeddings, so strict loading accepts it; the head holds the file's.
    model = BertMaskedLM.from_preset(with_vocab(tmp_path, name), max_seq_len=8, strict=True)
    values, _, _ = read_mlm_head(model.backbone, read_checkpoint(os.path.join(FAMILIES_DIR,
                                                                              name)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.head.bias), values["bias"])


def test_a_checkpoint_without_a_head_gets_a_new_one(tmp_path, caplog):
    directory = with_vocab(tmp_path, "electra_bin")  # ElectraForPreTraining: discriminator
    with caplog.at_level(logging.INFO, logger="bertcls.models.checkpoints"):
        model = BertMaskedLM.from_preset(directory, max_seq_len=8)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "a new masked-LM head: the checkpoint has none" in warnings[0]
    assert "discriminator_predictions" in warnings[0]
    assert not np.asarray(keras.ops.convert_to_numpy(model.head.bias)).any()
    with pytest.raises(CheckpointError, match="strict=True.*a new masked-LM head"):
        BertMaskedLM.from_preset(directory, max_seq_len=8, strict=True)


def test_an_untied_decoder_is_refused_under_strict(tmp_path):
    from safetensors.numpy import save_file
    directory = tmp_path / "untied"
    shutil.copytree(golden("distilbert"), directory)
    tensors = read_checkpoint(str(directory))
    tensors["vocab_projector.weight"] = tensors["distilbert.embeddings.word_embeddings.weight"] + 1
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="decoder.weight"):
        BertMaskedLM.from_preset(str(directory), max_seq_len=8, strict=True)


def test_a_partial_head_is_an_error(tmp_path):
    tensors = read_checkpoint(golden("roberta"))
    del tensors["lm_head.bias"]
    with pytest.raises(CheckpointError, match="part of a masked-LM head.*lm_head.bias"):
        read_mlm_head(RobertaBackbone, tensors)


def test_save_pretrained_writes_transformers_names(tmp_path):
    for family in ("roberta", "electra"):
        model = BertMaskedLM.from_preset(golden(family), max_seq_len=16)
        saved = model.save_pretrained(str(tmp_path / family))
        original, written = read_checkpoint(golden(family)), read_checkpoint(saved)
        assert sorted(written) == sorted(original)  # base model without pooler + head
        for name, value in original.items():
            np.testing.assert_array_equal(written[name], value, err_msg=name)
        again = BertMaskedLM.from_preset(saved, max_seq_len=16, strict=True)
        assert max_diff(again, family) <= TOLERANCE


def test_bert_pretraining_checkpoint_saves_as_masked_lm(tmp_path):
    model = BertMaskedLM.from_preset(golden("bert"), max_seq_len=16)
    saved = model.save_pretrained(str(tmp_path / "bert"))
    config = json.load(open(os.path.join(saved, "config.json")))
    assert config["architectures"] == ["BertForMaskedLM"]
    names = set(read_checkpoint(saved))
    assert not any(n.startswith(("cls.seq_relationship", "bert.pooler")) for n in names)
    assert "cls.predictions.bias" in names


@requires_refvenv
def test_transformers_loads_save_pretrained_to_the_same_logits(tmp_path):
    entries = []
    for i, family in enumerate(sorted(FAMILIES)):
        model = BertMaskedLM.from_preset(golden(family), max_seq_len=16)
        rng = np.random.default_rng(i)  # new values everywhere: what is written is ours
        for variable in model.weights:
            value = rng.normal(0, 0.2, size=tuple(variable.shape)).astype("float32")
            variable.assign(value + (1.0 if "gamma" in variable.path else 0.0))
        features, _ = reference(family)
        logits = keras.ops.convert_to_numpy(model(features))
        directory = model.save_pretrained(str(tmp_path / f"saved_{family}"))
        expected = str(tmp_path / f"{family}.npz")
        np.savez(expected, logits=logits, **features)
        entries.append({"directory": directory, "expected": expected, "family": family})
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(entries))
    proc = run_reference(os.path.join(MLM_DIR, "check_mlm_pretrained.py"), manifest)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    stems = {"bert": "Bert", "roberta": "Roberta", "xlm_roberta": "XLMRoberta",
             "electra": "Electra", "albert": "Albert", "distilbert": "DistilBert"}
    for entry in entries:
        result = results[entry["directory"]]
        print(entry["family"], result)
        assert result["class"] == f"{stems[entry['family']]}ForMaskedLM", result
        assert result["problems"] == {}, result
        assert result["max_diff"] <= TOLERANCE, result


# === fill_mask ===

def flat(results):
    return [c for item in results for c in (item if isinstance(item, list) else [item])]


@pytest.mark.parametrize("family", PIPELINE_FAMILIES)
def test_fill_mask_equals_transformers_pipeline(family):
    model = BertMaskedLM.from_preset(golden(family), max_seq_len=16)
    expected = json.load(open(os.path.join(golden(family), "fill_mask.json"), encoding="utf-8"))
    ours = model.fill_mask(expected["texts"], top_k=5)
    assert len(ours) == len(expected["results"])
    for text, mine, theirs in zip(expected["texts"], ours, expected["results"]):
        # one list of 5 for one mask, a list per mask for several (the pipeline's shapes)
        assert isinstance(mine[0], list) == isinstance(theirs[0], list), text
        for a, b in zip(flat(mine), flat(theirs)):
            assert (a["token"], a["token_str"], a["sequence"]) == (
                b["token"], b["token_str"], b["sequence"]), (text, a, b)
            assert abs(a["score"] - b["score"]) <= TOLERANCE, (text, a, b)
    two = [t for t in expected["texts"] if t.count(model.encoder.mask_token) == 2]
    assert two and len(model.fill_mask(two[0], top_k=3)) == 2


def test_fill_mask_on_a_sentencepiece_vocabulary():
    # XLM-R's `<mask>` stays one piece (and takes the space before it, as its tokenizer's
    # lstrip does); its candidates equal the pipeline's (test above), here the pieces.
    model = BertMaskedLM.from_preset(golden("xlm_roberta"))
    ids = model.encoder(["kim went to <mask>"])["input_ids"].numpy()[0].tolist()
    assert [model.encoder.vocabulary[i] for i in ids[:5]] == [
        "<s>", "▁kim", "▁went", "▁to", "<mask>"]
    candidates = model.fill_mask("kim went to <mask>", top_k=4)
    scores = [c["score"] for c in candidates]
    assert len(candidates) == 4 and scores == sorted(scores, reverse=True) and scores[0] > 0
    for c in candidates:
        assert c["sequence"].startswith("kim went to") and c["sequence"].endswith(
            c["token_str"]), c


def test_head_config_round_trip_with_the_embedding():
    from bertcls import MaskedLMHead

    model = BertMaskedLM.from_preset(golden("albert"))
    config = model.head.get_config()
    assert {"vocabulary_size": 40, "width": 8, "activation": "relu"}.items() <= config.items()
    again = MaskedLMHead(model.backbone.token_embedding, **config)
    assert again.get_config() == config
    with pytest.raises(ValueError, match="needs the backbone's embedding layer"):
        MaskedLMHead.from_config(config)


def test_fill_mask_errors():
    model = BertMaskedLM(BertBackbone(vocabulary_size=40, num_layers=1, num_heads=2,
                                      hidden_size=8, intermediate_size=16),
                         encoder=FeatureEncoder(BERT_VOCAB, max_seq_len=6))
    with pytest.raises(ValueError, match=r"texts: 'kim went home' has no mask token.*\[MASK\]"):
        model.fill_mask(["kim went home"])
    with pytest.raises(ValueError, match="top_k must be a positive int, received 0"):
        model.fill_mask("kim [MASK]", top_k=0)
    with pytest.raises(ValueError, match="cut off at max_seq_len 6"):
        model.fill_mask("kim went to the park [MASK]")
    with pytest.raises(ValueError, match="has no encoder"):
        BertMaskedLM(model.backbone).fill_mask("kim [MASK]")
    with pytest.raises(ValueError, match="needs a bertcls family backbone"):
        BertMaskedLM(keras.layers.Dense(3))


# === Keras round trips and training ===

def test_config_and_keras_round_trip(tmp_path):
    model = BertMaskedLM.from_preset(golden("electra"), max_seq_len=16)
    config = model.get_config()
    assert set(config) == {"name", "trainable", "backbone", "encoder"}
    features, _ = reference("electra")
    path = str(tmp_path / "mlm.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BertMaskedLM and type(loaded.backbone) is ElectraBackbone
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(features)),
                               keras.ops.convert_to_numpy(model(features)), atol=1e-6)
    # The head's decoder is the backbone's embedding variable, after loading too.
    assert loaded.head.token_embedding is loaded.backbone.token_embedding
    clone = BertMaskedLM.from_config(config)
    assert clone.head.width == model.head.width == 8


def test_one_fit_step_moves_the_shared_embeddings():
    backbone = BertBackbone(vocabulary_size=40, num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16)
    model = BertMaskedLM(backbone)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    ids = np.array([[2, 5, 4, 7, 3]], "int32")
    x = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
    y = np.array([[-100, -100, 6, -100, -100]], "int32")
    before = keras.ops.convert_to_numpy(backbone.token_embedding.embeddings).copy()
    history = model.fit(x, y, epochs=1, verbose=0)
    assert "accuracy" in history.history
    after = keras.ops.convert_to_numpy(backbone.token_embedding.embeddings)
    assert not np.array_equal(before[6], after[6])  # the tied decoder trained the embedding
    with pytest.raises(ValueError, match=r"token ids in \[0, 40\) or -100"):
        model.fit(x, y + 200 * (y >= 0), epochs=1, verbose=0)


def test_a_classifier_on_the_masked_lm_backbone_shares_its_weights():
    from bertcls import BertClassifier, make_mlm_dataset

    encoder = FeatureEncoder(BERT_VOCAB, max_seq_len=16)
    backbone = BertBackbone(vocabulary_size=40, num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16, max_sequence_length=16)
    mlm = BertMaskedLM(backbone, encoder=encoder)
    classifier = BertClassifier(mlm.backbone, num_classes=2, encoder=encoder)
    assert classifier.backbone is mlm.backbone
    shared = {id(v) for v in mlm.backbone.weights}
    assert shared <= {id(v) for v in classifier.weights}
    # Pretraining after building the classifier still changes the classifier's weights.
    x = encoder(["kim went to seoul"])
    before = keras.ops.convert_to_numpy(classifier(x))
    mlm.compile(optimizer=keras.optimizers.Adam(1e-2))
    mlm.fit(make_mlm_dataset(["kim went to seoul", "the park"] * 8, encoder, batch_size=8,
                             seed=0, mask_probability=0.5), epochs=1, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(classifier(x)), before)
    # A copy instead (the masked-LM model kept as it is): a backbone from its config and
    # weights.
    copy = type(backbone).from_config(backbone.get_config())
    copy.set_weights(backbone.get_weights())
    separate = BertClassifier(copy, num_classes=2, encoder=encoder)
    assert not {id(v) for v in copy.weights} & shared
    separate.head.set_weights(classifier.head.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(separate(x)),
                               keras.ops.convert_to_numpy(classifier(x)), atol=1e-6)
