"""One validation at every public entry point that takes text: None, numbers, nested lists,
bytes and arrays of the wrong dtype each raise one `TextInputError` (a TypeError and a
ValueError) naming the argument, what it received and what it accepts, before any work and
without Keras' "Exception encountered when calling" wrapping."""

import pathlib
import re

import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, BertClassifier, BertQuestionAnswerer, BertRegressor,
                     BertTagger, FeatureEncoder, SentenceEmbedder, SentencePieceEncoder,
                     encode_texts, make_dataset)
from bertcls.text.inputs import TextInputError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie"]
SPIECE = pathlib.Path(__file__).parent / "golden" / "kobert" / "spiece.model"

# kind -> (value, what the message must say it received)
BAD = {
    "none": (None, "received None"),
    "number": (3, "received int 3"),
    "number_items": ([1, 2], r"item 0 is int \(1\)"),
    "nested": ([["good", "movie"]], r"item 0 is list \(\['good', 'movie'\]\)"),
    "bytes": (b"good", "received bytes b'good'"),
    "bytes_items": ([b"good"], r"item 0 is bytes \(b'good'\)"),
    "int_array": (np.array([1, 2]), r"received a numpy array of dtype int64, shape \(2,\)"),
}
# The encoder layers take bytes: they are TensorFlow's own strings (UTF-8).
ENCODER_BAD = {k: v for k, v in BAD.items() if not k.startswith("bytes")}


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)

    def backbone():
        return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)

    encoder = FeatureEncoder(VOCAB, max_seq_len=16)
    return {
        "classifier": BertClassifier(backbone(), encoder=encoder),
        "regressor": BertRegressor(backbone(), encoder=encoder),
        "tagger": BertTagger(backbone(), tags=["O", "B-X", "I-X"], encoder=encoder),
        "embedder": SentenceEmbedder(backbone(), encoder=encoder),
        "qa": BertQuestionAnswerer(backbone(), encoder=encoder),
        "encoder": encoder,
        "spm": SentencePieceEncoder(str(SPIECE), max_seq_len=16),
    }


GOOD = ["good movie", "bad"]
# entry point -> (argument name, call with the bad value, what the message says it accepts)
LIST_ENTRIES = {
    "classifier.predict_texts": ("texts", lambda m, v: m["classifier"].predict_texts(v)),
    "regressor.predict_texts": ("texts", lambda m, v: m["regressor"].predict_texts(v)),
    "tagger.predict_texts": ("texts", lambda m, v: m["tagger"].predict_texts(v)),
    "embedder.embed": ("texts", lambda m, v: m["embedder"].embed(v)),
    "embedder.similarity": ("b", lambda m, v: m["embedder"].similarity(GOOD, v)),
    "embedder.search": ("corpus", lambda m, v: m["embedder"].search("good", v)),
    "qa.predict_answers": ("contexts", lambda m, v: m["qa"].predict_answers(["good"], v)),
    "encode_texts": ("texts", lambda m, v: encode_texts(m["encoder"], v)),
    "make_dataset": ("x", lambda m, v: make_dataset(v, encoder=m["encoder"])),
}
ONE_ENTRIES = {
    "classifier.predict_text": ("text", lambda m, v: m["classifier"].predict_text(v)),
    "regressor.predict_text": ("text", lambda m, v: m["regressor"].predict_text(v)),
    "tagger.predict_text": ("text", lambda m, v: m["tagger"].predict_text(v)),
}
ENCODERS = {
    "FeatureEncoder": lambda m, v: m["encoder"](v),
    "SentencePieceEncoder": lambda m, v: m["spm"](v),
}


def raised(call, models, value):
    with pytest.raises(TextInputError) as info:
        call(models, value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert "Exception encountered" not in message and "\x1b[" not in message
    return message


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("entry", LIST_ENTRIES)
def test_list_entry_points(models, entry, kind):
    what, call = LIST_ENTRIES[entry]
    value, says = BAD[kind]
    if entry.startswith("embedder.") and kind in ("number_items", "int_array"):
        value, says = np.array([[True]]), "dtype bool"  # numbers are embeddings there
    message = raised(call, models, value)
    assert f"`{what}` must" in message
    assert re.search(says, message), message
    if kind == "bytes_items" or kind == "bytes":
        assert "Decode bytes" in message
    assert "NaN" not in message and "missing rows" not in message


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("entry", ONE_ENTRIES)
def test_one_text_entry_points(models, entry, kind):
    what, call = ONE_ENTRIES[entry]
    value = BAD[kind][0]
    message = raised(call, models, value)
    assert message.startswith(f"`{what}` must be one string")
    if isinstance(value, list):
        assert "predict_texts" in message


@pytest.mark.parametrize("kind", ENCODER_BAD)
@pytest.mark.parametrize("entry", ENCODERS)
def test_encoder_layers(models, entry, kind):
    value, says = ENCODER_BAD[kind]
    message = raised(ENCODERS[entry], models, value)
    assert message.startswith(f"{entry}: `inputs` must")
    assert re.search(says, message), message


def test_missing_rows_still_get_their_hint(models):
    message = raised(LIST_ENTRIES["classifier.predict_texts"][1], models, ["good", float("nan")])
    assert "item 1 is float (nan)" in message and "clean_like_tutorial" in message


def test_good_input_still_works(models):
    assert models["classifier"].predict_texts(GOOD)["labels"].shape == (2,)
    assert models["embedder"].similarity(GOOD, np.ones((3, 8))).shape == (2, 3)
    assert models["embedder"].search(("good", "bad"), GOOD, top_k=1)["indices"].shape == (2, 1)
    assert models["spm"](np.array([b"good"]))["input_ids"].shape[0] == 1


def test_string_labels_point_at_label_ids(models):
    with pytest.raises(ValueError, match=r"received dtype <U3.*model.label_ids\(names\)"):
        make_dataset(GOOD, ["pos", "neg"], encoder=models["encoder"])
