"""BertTagger: masked loss and accuracy, label checks, spans from text, saving."""

import inspect
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertcls import (BertBackbone, BertHead, BertTagger, Entity, FeatureEncoder, MaskedAccuracy,
                     MaskedSparseCategoricalCrossentropy, encode_tagged)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "kim", "lee", "went", "to", "seoul",
         "busan", "in", "may", "the", "city"]
TAGS = ["O", "B-PS", "I-PS", "B-LC", "I-LC"]
TAG_TO_ID = {t: i for i, t in enumerate(TAGS)}
REPO = pathlib.Path(__file__).resolve().parents[1]
PEOPLE, PLACES, OTHER = ["kim", "lee"], ["seoul", "busan"], ["went", "to", "in", "may", "the"]


def tiny_backbone(seed=0):
    keras.utils.set_random_seed(seed)
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=16,
                        intermediate_size=32, dropout=0.0, attention_dropout=0.0)


def encoder():
    return FeatureEncoder(VOCAB, max_seq_len=12, padding="longest")


def toy_data(n, seed=0):
    rng = np.random.default_rng(seed)
    texts, tags = [], []
    for _ in range(n):
        words, word_tags = [], []
        for _ in range(rng.integers(2, 7)):
            kind = rng.integers(0, 3)
            pool, tag = [(PEOPLE, "B-PS"), (PLACES, "B-LC"), (OTHER, "O")][kind]
            words.append(str(rng.choice(pool)))
            word_tags.append(tag)
        texts.append(" ".join(words))
        tags.append(word_tags)
    return texts, tags


@pytest.fixture(scope="module")
def data():
    texts, tags = toy_data(48)
    x, y = encode_tagged(encoder(), texts, tags, TAG_TO_ID, level="word")
    return texts, x, y


def test_fit_reduces_loss_and_decodes_spans(data):
    texts, x, y = data
    tagger = BertTagger(tiny_backbone(), tags=TAGS, encoder=encoder(), level="word",
                        dropout=0.0)
    tagger.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = tagger.evaluate(x, y, verbose=0)
    tagger.fit(x, y, epochs=10, batch_size=16, verbose=0)
    after = tagger.evaluate(x, y, verbose=0)
    assert after[0] < 0.5 * before[0]
    assert after[1] > 0.9
    spans = tagger.predict_texts(["kim went to busan", "the city"], batch_size=1)
    assert spans[0] == [Entity("PS", 0, 3, "kim"), Entity("LC", 12, 17, "busan")]
    assert spans[1] == []
    assert tagger.predict_text("kim went to busan") == spans[0]


def test_ignored_positions_change_neither_loss_nor_metric(data):
    _, x, y = data
    tagger = BertTagger(tiny_backbone(), num_tags=len(TAGS))
    tagger.compile()
    ignored = y == -100
    rng = np.random.default_rng(0)
    probs = np.asarray(tagger.predict_on_batch(x))
    other = probs.copy()
    other[ignored] = rng.dirichlet(np.ones(len(TAGS)), size=ignored.sum())
    loss = MaskedSparseCategoricalCrossentropy()
    assert float(loss(y, other)) == pytest.approx(float(loss(y, probs)))
    first, second = MaskedAccuracy(), MaskedAccuracy()
    first.update_state(y, probs)
    second.update_state(y, other)
    expected = (probs.argmax(-1) == y)[~ignored].mean()
    assert float(first.result()) == pytest.approx(expected)
    assert float(second.result()) == pytest.approx(expected)
    # The same through the model: other token ids at padded positions change nothing.
    x_other = dict(x)
    padded = x["attention_mask"] == 0
    assert padded.any()
    x_other["input_ids"] = np.where(padded, rng.integers(5, len(VOCAB), size=y.shape),
                                    x["input_ids"]).astype("int32")
    assert tagger.evaluate(x_other, y, verbose=0) == pytest.approx(
        tagger.evaluate(x, y, verbose=0), rel=1e-5)
    # Whereas an unmasked loss would see them.
    plain = keras.losses.SparseCategoricalCrossentropy()
    assert float(plain(np.where(ignored, 0, y), probs)) != pytest.approx(
        float(plain(np.where(ignored, 0, y), other)))


def test_masked_loss_matches_mean_over_kept_positions():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=(2, 4)).astype("float32")
    y = np.array([[0, 2, -100, -100], [1, -100, 0, -100]])
    kept = y != -100
    expected = -np.log(probs[kept, y[kept]]).mean()
    masked = MaskedSparseCategoricalCrossentropy()
    assert float(masked(y, probs)) == pytest.approx(expected, rel=1e-5)
    logits = np.log(probs)
    loss = MaskedSparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(y, logits)) == pytest.approx(expected, rel=1e-4)
    assert float(loss(np.full((2, 4), -100), logits)) == 0.0


def test_masked_loss_is_per_example_so_keras_scales_it_for_replicas():
    # A scalar from Loss.call skips Keras' division by the replica count (the bug the
    # mirrored test below guards against); per-example values weighted by sample_weight.
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(3), size=(2, 4)).astype("float32")
    y = np.array([[0, 2, -100, -100], [1, -100, 0, 1]])
    per_example = MaskedSparseCategoricalCrossentropy(reduction=None)(y, probs)
    assert tuple(per_example.shape) == (2,)
    kept = y != -100
    token_losses = np.where(kept, -np.log(np.take_along_axis(
        probs, np.where(kept, y, 0)[..., None], -1)[..., 0]), 0.0)
    np.testing.assert_allclose(per_example, token_losses.sum(1) * 2 / kept.sum(), rtol=1e-5)
    weighted = MaskedSparseCategoricalCrossentropy()(y, probs, sample_weight=np.array([1., 0.]))
    assert float(weighted) == pytest.approx(token_losses[0].sum() / kept.sum(), rel=1e-5)


def test_mirrored_strategy_step_equals_one_device():
    # Two logical CPUs under MirroredStrategy: same loss and same weights after one SGD step
    # as one device (before the fix both came out twice as large).
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_DISTRIBUTION")}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "distribute_scripts" / "tagger_mirrored.py")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    found = json.loads(lines[-1][len("RESULT "):])
    assert found["strategy"] == "MirroredStrategy" and found["num_replicas"] == 2
    assert found["single_loss"] == pytest.approx(found["expected_loss"], rel=1e-5)
    assert found["mirrored_loss"] == pytest.approx(found["expected_loss"], rel=1e-5), found
    assert found["moved"] > 1e-2, found
    assert found["max_difference"] < 1e-5, found


def test_dataset_labels_are_checked(data):
    _, x, y = data
    tagger = BertTagger(tiny_backbone(), tags=TAGS)
    tagger.compile()
    ok = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    tagger.fit(ok, epochs=1, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices((x, np.where(y == 1, 7, y))).batch(16)
    with pytest.raises(ValueError, match=r"\[0, 5\) or -100"):
        tagger.fit(bad, epochs=1, verbose=0)


@pytest.mark.parametrize("change, message", [
    (lambda y: np.where(y == 1, 5, y), r"\[0, 5\) or -100"),
    (lambda y: np.where(y == 1, -1, y), r"\[0, 5\) or -100"),
    (lambda y: y[:, :-1], "shape of input_ids"),
    (lambda y: y[..., None], r"shape \(batch, length\)"),
    (lambda y: y.astype(str), "integer tag ids"),
    (lambda y: y + 0.5, "integer tag ids"),
])
def test_bad_labels_raise_before_training(data, change, message):
    _, x, y = data
    tagger = BertTagger(tiny_backbone(), tags=TAGS)
    tagger.compile()
    with pytest.raises(ValueError, match=message):
        tagger.fit(x, change(y), epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "Give `tags`"),
    ({"num_tags": 0}, "Give `tags`"),
    ({"tags": ["O", "O"]}, "distinct"),
    ({"tags": ["O", "B-X"], "num_tags": 3}, "disagrees"),
    ({"num_tags": 3, "level": "token"}, "level"),
    ({"num_tags": 3, "head": BertHead(num_outputs=3)}, r"must output \(batch, length, 3\)"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertTagger(tiny_backbone(), **kwargs)


def test_predict_errors():
    tagger = BertTagger(tiny_backbone(), num_tags=3, encoder=encoder())
    with pytest.raises(ValueError, match="needs tag names"):
        tagger.predict_texts(["kim"])
    with pytest.raises(ValueError, match="one string"):
        BertTagger(tiny_backbone(), tags=TAGS, encoder=encoder()).predict_text(["kim"])


def test_config_and_keras_round_trip(data, tmp_path):
    texts, x, y = data
    tagger = BertTagger(tiny_backbone(), tags=TAGS, encoder=encoder(), level="word")
    tagger.compile()
    tagger.fit(x, y, verbose=0)
    config = tagger.get_config()
    params = set(inspect.signature(BertTagger.__init__).parameters) - {"self", "kwargs"}
    assert params <= set(config)
    assert BertTagger.from_config(config).get_config() == config
    tagger.save(tmp_path / "tagger.keras")
    loaded = keras.models.load_model(tmp_path / "tagger.keras")
    assert isinstance(loaded, BertTagger) and loaded.compiled
    np.testing.assert_array_equal(loaded.predict_on_batch(x), tagger.predict_on_batch(x))
    assert loaded.predict_texts(texts) == tagger.predict_texts(texts)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(tagger.evaluate(x, y, verbose=0))


def test_from_preset(minilm_path):
    tagger = BertTagger.from_preset(minilm_path, tags=TAGS, max_seq_len=16, level="word")
    assert tagger.encoder.max_seq_len == 16 and tagger.level == "word"
    spans = tagger.predict_texts(["kim went to seoul", "hello"])
    assert len(spans) == 2 and all(isinstance(s, list) for s in spans)
