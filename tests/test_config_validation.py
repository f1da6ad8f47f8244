"""Configs are checked when a model is built: config.json and tokenizer_config.json values,
constructor arguments, a tokenizer against its backbone, and every valid dropout trains."""

import json
import os

import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, BertClassifier, BertTagger, CheckpointError, FeatureEncoder,
                     PresetError)
from bertcls.models.config import validate_hf_config
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "!"]
CONFIG = {"vocab_size": 9, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
          "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2}


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("preset")
    BertBackbone.from_hf_config(CONFIG).save_pretrained(str(directory), encoder=VOCAB)
    return directory


def with_config(preset, tmp_path, text):
    import shutil

    directory = tmp_path / "preset"
    shutil.copytree(preset, directory)
    (directory / "config.json").write_text(text if isinstance(text, str) else json.dumps(text))
    return str(directory)


# === config.json ===

BAD_CONFIGS = {
    "string_size": ({"hidden_size": "8"}, "hidden_size must be a positive integer"),
    "float_size": ({"vocab_size": 9.0}, "vocab_size must be a positive integer"),
    "bool_size": ({"num_hidden_layers": True}, "num_hidden_layers must be a positive integer"),
    "zero_heads": ({"num_attention_heads": 0}, "num_attention_heads must be a positive"),
    "dropout_one": ({"hidden_dropout_prob": 1.0}, r"hidden_dropout_prob must be .* \[0, 1\)"),
    "dropout_negative": ({"attention_probs_dropout_prob": -0.1}, "attention_probs_dropout"),
    "dropout_string": ({"hidden_dropout_prob": "0.1"}, "hidden_dropout_prob must be"),
    "dropout_nan": ({"hidden_dropout_prob": float("nan")}, "hidden_dropout_prob must be"),
    "heads_do_not_divide": ({"num_attention_heads": 3}, "multiple of num_attention_heads"),
    "epsilon_zero": ({"layer_norm_eps": 0}, "layer_norm_eps must be a positive number"),
    "initializer_negative": ({"initializer_range": -1}, "initializer_range must be"),
    "act_not_string": ({"hidden_act": ["gelu"]}, "hidden_act must be a string"),
    "decoder_string": ({"is_decoder": "false"}, "is_decoder must be true or false"),
    "missing_key": ({"vocab_size": None}, "lacks required bert keys"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_values_are_refused_naming_file_and_key(preset, tmp_path, name,
                                                           monkeypatch):
    change, message = BAD_CONFIGS[name]
    config = {k: v for k, v in dict(CONFIG, **change).items() if v is not None}
    directory = with_config(preset, tmp_path, config)
    path = os.path.join(directory, "config.json")
    with pytest.raises(CheckpointError, match=message) as info:
        BertBackbone.from_preset(directory)
    assert path in str(info.value)
    with pytest.raises(ValueError, match=message):  # type/range errors: CheckpointError
        BertBackbone.from_hf_config(path)


@pytest.mark.parametrize("text, message", [
    ("{\"vocab_size\": 9,", "Cannot read config .*JSONDecodeError"),
    ("[1, 2]", "must hold a JSON object, it holds a list"),
    ("\xff\xfe", "Cannot read config"),
])
def test_unreadable_config_json(preset, tmp_path, text, message):
    directory = with_config(preset, tmp_path, "")
    with open(os.path.join(directory, "config.json"), "wb") as f:
        f.write(text.encode("latin-1"))
    with pytest.raises(CheckpointError, match=message) as info:
        BertBackbone.from_preset(directory)
    assert os.path.join(directory, "config.json") in str(info.value)


def test_validate_hf_config_is_reusable_with_other_keys():
    # Another model family passes its own keys; only the keys present are checked.
    validate_hf_config({"embedding_size": 128}, int_keys=("embedding_size",))
    with pytest.raises(CheckpointError, match="x.json: embedding_size must be a positive"):
        validate_hf_config({"embedding_size": 0}, "x.json", int_keys=("embedding_size",))
    with pytest.raises(CheckpointError, match="must be a dict"):
        validate_hf_config([("vocab_size", 3)])  # "must be a dict (a JSON object)"


@pytest.mark.parametrize("argument, value, message", [
    ("dropout", 1.0, r"dropout must be a number in \[0, 1\)"),
    ("attention_dropout", -0.5, "attention_dropout must be"),
    ("dropout", "0.1", "dropout must be"),
    ("layer_norm_epsilon", 0.0, "layer_norm_epsilon must be a positive"),
    ("initializer_range", float("inf"), "initializer_range must be"),
    ("hidden_size", 9, "multiple of num_heads"),
    ("max_sequence_length", 0, "max_sequence_length must be a positive int"),
])
def test_bad_constructor_arguments(argument, value, message):
    kwargs = dict(vocabulary_size=9, num_layers=1, num_heads=2, hidden_size=8,
                  intermediate_size=16)
    kwargs[argument] = value
    with pytest.raises(ValueError, match=message):
        BertBackbone(**kwargs)


def test_overrides_are_checked_before_the_weights_are_read(preset):
    with pytest.raises(ValueError, match="dropout must be a number"):
        BertBackbone.from_preset(str(preset), dropout=1.5)


# === The tokenizer against the backbone ===

def test_tokenizer_ids_beyond_the_vocabulary_are_refused(preset, tmp_path):
    backbone = BertBackbone.from_preset(str(preset))
    encoder = FeatureEncoder(VOCAB + ["extra", "words"], max_seq_len=8)
    for cls, kwargs in ((BertClassifier, {}), (BertTagger, {"num_tags": 3})):
        with pytest.raises(ValueError, match=r"tokenizer has 11 tokens \(ids up to 10\) but "
                                             r"the backbone's vocabulary_size is 9"):
            cls(backbone, encoder=encoder, **kwargs)
    directory = with_config(preset, tmp_path, CONFIG)
    with open(os.path.join(directory, "vocab.txt"), "a") as f:
        f.write("extra\nwords\n")
    with pytest.raises(ValueError, match="ids 9 to 10 have no embedding"):
        BertClassifier.from_preset(directory, max_seq_len=8)


def test_max_seq_len_beyond_the_position_embeddings_is_refused(preset):
    with pytest.raises(ValueError, match=r"max_seq_len \(32\) exceeds the backbone's "
                                         r"max_sequence_length \(16"):
        BertClassifier.from_preset(str(preset), max_seq_len=32)
    with pytest.raises(ValueError, match="max_seq_len"):
        BertTagger.from_preset(str(preset), num_tags=3, max_seq_len=17)
    assert BertClassifier.from_preset(str(preset), max_seq_len=16).encoder.max_seq_len == 16


JAX_CHECKS = r"""
import json, os, sys
import keras
import numpy as np
assert keras.backend.backend() == "jax"
from bertcls import BertBackbone, BertClassifier, CheckpointError, FeatureEncoder
preset, vocab = sys.argv[1], json.loads(sys.argv[2])
results = {}
backbone = BertBackbone.from_preset(preset, dropout=0.0, attention_dropout=0.1)
try:
    BertClassifier(backbone, encoder=FeatureEncoder(vocab + ["x", "y"], max_seq_len=8))
    results["vocab"] = "accepted"
except ValueError as e:
    results["vocab"] = str(e)
try:
    BertClassifier.from_preset(preset, max_seq_len=64)
    results["length"] = "accepted"
except ValueError as e:
    results["length"] = str(e)
encoder = FeatureEncoder(vocab, max_seq_len=8)
model = BertClassifier(backbone, encoder=encoder)
model.compile(run_eagerly=True)
features = {k: np.asarray(v) for k, v in encoder(["good movie", "bad movie !"]).items()}
history = model.fit(features, np.array([1, 0]), epochs=1, verbose=0)
results["loss"] = float(history.history["loss"][0])
print("RESULT" + json.dumps(results))
"""


@pytest.mark.jax
def test_checks_and_dropout_on_the_jax_backend(preset):
    # On JAX an out-of-range id gave NaN silently: the refusal must not depend on the backend.
    proc = warm_run("jax", ["-c", JAX_CHECKS, str(preset), json.dumps(VOCAB)], timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    assert "ids 9 to 10 have no embedding" in results["vocab"]
    assert "max_seq_len (64) exceeds" in results["length"]
    assert np.isfinite(results["loss"])


# === Dropout: every valid combination trains ===

@pytest.mark.parametrize("dropout, attention_dropout, head_dropout", [
    (0.0, 0.0, 0.0), (0.0, 0.1, 0.0), (0.1, 0.0, 0.2), (0.1, 0.1, 0.0), (0.0, 0.3, 0.5),
    (0.2, 0.0, 0.0),
])
def test_every_dropout_combination_trains(preset, dropout, attention_dropout, head_dropout):
    # from_preset(..., dropout=0.0) used to fail in fit: "'Dropout' object has no attribute
    # 'seed_generator'" (the attention dropout was built at rate 0, then given 0.1).
    backbone = BertBackbone.from_preset(str(preset), dropout=dropout,
                                        attention_dropout=attention_dropout)
    layer = backbone.transformer_layers[0]
    assert layer._self_attention_layer._dropout_layer.rate == attention_dropout
    assert layer._self_attention_dropout.rate == dropout
    assert layer._feedforward_dropout.rate == dropout
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    model = BertClassifier(backbone, dropout=head_dropout, encoder=encoder)
    # The reported case in a compiled train step, the others eagerly (the same layer calls).
    model.compile(run_eagerly=(dropout, attention_dropout) != (0.0, 0.1))
    history = model.fit(encoder(["good movie", "bad movie !"]), np.array([1, 0]), epochs=1,
                        verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_asymmetric_dropout_round_trips_through_keras_files(preset, tmp_path):
    backbone = BertBackbone.from_preset(str(preset), dropout=0.0, attention_dropout=0.1)
    path = str(tmp_path / "model.keras")
    BertClassifier(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=8)).save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.backbone.transformer_layers[0]
    assert (loaded.backbone.dropout, loaded.backbone.attention_dropout) == (0.0, 0.1)
    assert layer._self_attention_layer._dropout_layer.rate == 0.1
    assert layer._feedforward_dropout.rate == 0.0
    features = FeatureEncoder(VOCAB, max_seq_len=8)(["good movie"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.backbone(features)[
        "sequence_output"]), keras.ops.convert_to_numpy(backbone(features)["sequence_output"]),
        atol=1e-6)


# === tokenizer_config.json and vocab.txt ===

def tokenizer_dir(tmp_path, config_text, vocab_bytes=None):
    directory = tmp_path / "tok"
    directory.mkdir()
    (directory / "vocab.txt").write_bytes(
        vocab_bytes if vocab_bytes is not None else "\n".join(VOCAB).encode() + b"\n")
    if config_text is not None:
        (directory / "tokenizer_config.json").write_text(config_text)
    return str(directory)


@pytest.mark.parametrize("text, message", [
    ('{"do_lower_case": "false"}', r"do_lower_case must be true or false .* received 'false'"),
    ('{"tokenize_chinese_chars": 0}', "tokenize_chinese_chars must be true or false"),
    ('{"strip_accents": "no"}', "strip_accents must be true, false or null"),
    ('{"do_lower_case": null}', "do_lower_case must be true or false"),
    ('[{"do_lower_case": false}]', "must hold a JSON object .* it holds a list"),
    ('{"do_lower_case": fals', "Cannot read .*JSONDecodeError"),
    ('{"unk_token": 3}', "unk_token must be a non-empty string"),
    ('{"pad_token": {"content": 0}}', "pad_token is an object without a string 'content'"),
])
def test_bad_tokenizer_config_values(tmp_path, text, message):
    directory = tokenizer_dir(tmp_path, text)
    with pytest.raises(PresetError, match=message) as info:
        FeatureEncoder.from_preset(directory)
    assert os.path.join(directory, "tokenizer_config.json") in str(info.value)


def test_good_tokenizer_config_values(tmp_path):
    directory = tokenizer_dir(tmp_path, json.dumps({
        "do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": False,
        "unk_token": {"content": "[UNK]", "lstrip": False}, "mask_token": None,
        "model_max_length": 512, "clean_up_tokenization_spaces": True}))
    encoder = FeatureEncoder.from_preset(directory)
    assert (encoder.lowercase, encoder.strip_accents, encoder.tokenize_chinese_chars) == (
        False, None, False)
    assert encoder.unk_token == "[UNK]" and encoder.mask_token == "[MASK]"


def test_byte_order_mark_in_vocab_is_stripped(tmp_path, caplog):
    # transformers 5.24 keeps the BOM inside token 0 ("\ufeff[PAD]"), so "[PAD]" is missing and
    # gets appended as id len(vocab), past the model's embeddings; bertcls strips it (warning).
    plain = FeatureEncoder(VOCAB, max_seq_len=8)
    directory = tokenizer_dir(tmp_path, None,
                              b"\xef\xbb\xbf" + "\n".join(VOCAB).encode() + b"\n")
    with caplog.at_level("WARNING", logger="bertcls.text.wordpiece"):
        encoder = FeatureEncoder.from_preset(directory, max_seq_len=8)
    assert any("byte order mark" in r.getMessage() for r in caplog.records)
    assert encoder.vocabulary == VOCAB and encoder.pad_token_id == 0
    np.testing.assert_array_equal(encoder(["good movie !"])["input_ids"],
                                  plain(["good movie !"])["input_ids"])


def test_other_families_get_the_same_config_and_weight_checks(tmp_path, caplog):
    from bertcls import ElectraBackbone, backbone_from_preset

    directory = tmp_path / "electra"
    ElectraBackbone(vocabulary_size=9, num_layers=1, num_heads=2, hidden_size=8,
                    intermediate_size=16, embedding_size=4).save_pretrained(str(directory))
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps(dict(config, hidden_dropout_prob=1.0)))
    with pytest.raises(CheckpointError, match=r"config.json: hidden_dropout_prob must be"):
        backbone_from_preset(str(directory))
    (directory / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="Cannot read config"):
        backbone_from_preset(str(directory))
    (directory / "config.json").write_text(json.dumps(config))
    from safetensors.numpy import load_file, save_file
    state = load_file(str(directory / "model.safetensors"))
    name = sorted(state)[0]
    state[name][...] = np.nan
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=f"NaN or infinite values in 1 tensors: {name}"):
        backbone_from_preset(str(directory), strict=True)
