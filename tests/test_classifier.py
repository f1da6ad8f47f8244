"""BertClassifier: tasks, label checks, compile defaults, text prediction, saving."""

import inspect
import os
import textwrap
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertcls import BertBackbone, BertClassifier, BertHead, FeatureEncoder
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "plot",
         "actor", "the", "a", "very"]
WORDS = ["movie", "plot", "actor", "the", "a", "very"]


def tiny_backbone(seed=0):
    keras.utils.set_random_seed(seed)
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=16,
                        intermediate_size=32, dropout=0.0, attention_dropout=0.0)


def encoder(max_seq_len=12):
    return FeatureEncoder(VOCAB, max_seq_len=max_seq_len)


def toy_texts(n, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(WORDS, size=rng.integers(1, 6)))
        label = int(rng.integers(0, 3))
        words.insert(int(rng.integers(0, len(words) + 1)), ["bad", "good", "very"][label])
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def binary_model():
    model = BertClassifier(tiny_backbone(), encoder=encoder())
    model.compile()
    return model


def test_binary_is_the_tutorial_model(binary_model):
    head = binary_model.head
    assert isinstance(head, BertHead)
    assert (head.num_outputs, head.activation, head.pooling, head.dropout) == (
        1, "sigmoid", "pooled", 0.0)
    assert isinstance(binary_model.loss, keras.losses.BinaryCrossentropy)
    assert isinstance(binary_model.optimizer, keras.optimizers.Adam)
    assert float(binary_model.optimizer.learning_rate) == pytest.approx(5e-5)
    out = binary_model(encoder()(["good movie"]))
    assert tuple(out.shape) == (1, 1)


def test_compile_overrides():
    model = BertClassifier(tiny_backbone(), num_classes=3)
    model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["sparse_categorical_accuracy"])
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)


@pytest.mark.parametrize("task", ["binary", "multi_class", "multi_label"])
def test_fit_reduces_loss(task):
    texts, labels = toy_texts(64)
    if task == "binary":
        model, y = BertClassifier(tiny_backbone()), (labels == 1).astype("int32")
    elif task == "multi_class":
        model, y = BertClassifier(tiny_backbone(), num_classes=3), labels
    else:
        model = BertClassifier(tiny_backbone(), num_classes=3, multi_label=True)
        y = np.eye(3, dtype="float32")[labels]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = {k: np.asarray(v) for k, v in encoder()(texts).items()}
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < 0.7 * before


def test_fit_on_dataset_checks_first_batch():
    model = BertClassifier(tiny_backbone(), num_classes=3)
    model.compile()
    texts, labels = toy_texts(8)
    x = {k: np.asarray(v) for k, v in encoder()(texts).items()}
    good = tf.data.Dataset.from_tensor_slices((x, labels)).batch(4)
    model.fit(good, epochs=1, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices((x, labels + 5)).batch(4)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\]"):
        model.fit(bad, epochs=1, verbose=0)
    strings = tf.data.Dataset.from_tensor_slices((x, labels.astype(str))).batch(4)
    with pytest.raises(ValueError, match="numeric"):
        model.fit(strings, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, y, message", [
    ({}, [0, 2], r"Binary labels must lie in \[0, 1\]"),
    ({}, [[0, 1], [1, 0]], r"shape \(batch,\) or \(batch, 1\)"),
    ({}, ["a", "b"], "numeric"),
    ({}, [0.0, np.nan], "NaN"),
    ({"num_classes": 3}, [0, 3], r"must lie in \[0, 2\]"),
    ({"num_classes": 3}, [-1, 0], r"must lie in \[0, 2\]"),
    ({"num_classes": 3}, [0.5, 1.0], "whole numbers"),
    ({"num_classes": 3, "multi_label": True}, [0, 1], r"shape \(batch, 3\)"),
    ({"num_classes": 3, "multi_label": True}, [[0, 1, 2], [0, 0, 0]], r"\[0, 1\]"),
])
def test_bad_labels_raise_before_training(kwargs, y, message):
    model = BertClassifier(tiny_backbone(), **kwargs)
    model.compile()
    x = {k: np.asarray(v) for k, v in encoder()(["good", "bad"]).items()}
    weights = [np.copy(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match=message):
        model.fit(x, np.array(y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.evaluate(x, np.array(y), verbose=0)
    for w, w0 in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "num_classes"),
    ({"num_classes": 2.0}, "num_classes"),
    ({"pooling": "max"}, "pooling"),
    ({"num_classes": 4, "head": BertHead(num_outputs=3, activation="softmax")},
     "must output 4 values"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertClassifier(tiny_backbone(), **kwargs)


def test_injected_head_is_used():
    head = BertHead(num_outputs=4, pooling="mean", activation="softmax", name="mine")
    model = BertClassifier(tiny_backbone(), num_classes=4, head=head)
    assert model.head is head
    clone = BertClassifier.from_config(model.get_config())
    assert clone.head.pooling == "mean"


def test_config_round_trip_matches_constructor(binary_model):
    config = binary_model.get_config()
    params = set(inspect.signature(BertClassifier.__init__).parameters) - {"self", "kwargs"}
    assert params <= set(config)
    clone = BertClassifier.from_config(config)
    assert clone.get_config() == config


def test_predict_texts_sorted_batches_keep_input_order(binary_model):
    texts, _ = toy_texts(23, seed=3)
    texts[5] = "very " * 20  # truncated to max_seq_len
    texts[7] = ""
    result = binary_model.predict_texts(texts, batch_size=4)
    assert result["labels"].shape == result["probabilities"].shape == (23,)
    direct = np.asarray(binary_model(encoder()(texts)))[:, 0]
    np.testing.assert_allclose(result["probabilities"], direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result["labels"], (direct > 0.5).astype(int))
    label, probability = binary_model.predict_text(texts[2])
    assert probability == pytest.approx(direct[2], rel=1e-5)
    assert label == int(direct[2] > 0.5)


def test_predict_texts_multi_class_and_multi_label():
    texts, _ = toy_texts(9, seed=4)
    model = BertClassifier(tiny_backbone(), num_classes=3, encoder=encoder())
    result = model.predict_texts(texts, batch_size=2)
    assert result["probabilities"].shape == (9, 3)
    np.testing.assert_array_equal(result["labels"], result["probabilities"].argmax(-1))
    multi = BertClassifier(tiny_backbone(), num_classes=3, multi_label=True, encoder=encoder())
    result = multi.predict_texts(texts, threshold=0.3)
    np.testing.assert_array_equal(result["labels"], result["probabilities"] > 0.3)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.predict_texts("one string"), "list of strings"),
    (lambda m: m.predict_texts(["a", 3]), "item 1 is int"),
    (lambda m: m.predict_texts(["a"], batch_size=0), "batch_size"),
    (lambda m: m.predict_text(["a"]), "one string"),
])
def test_predict_errors(binary_model, call, message):
    with pytest.raises(ValueError, match=message):
        call(binary_model)


def test_predict_texts_needs_encoder():
    with pytest.raises(ValueError, match="has no encoder"):
        BertClassifier(tiny_backbone()).predict_texts(["good"])


def test_keras_round_trip_identical_predictions(binary_model, tmp_path):
    texts, labels = toy_texts(6)
    binary_model.fit(encoder()(texts), (labels == 1).astype("int32"), verbose=0)
    path = tmp_path / "classifier.keras"
    binary_model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BertClassifier) and loaded.compiled
    np.testing.assert_array_equal(loaded.predict_texts(texts)["probabilities"],
                                  binary_model.predict_texts(texts)["probabilities"])
    assert loaded.encoder.get_config() == binary_model.encoder.get_config()


def test_from_preset(minilm_path):
    model = BertClassifier.from_preset(minilm_path, num_classes=3, max_seq_len=32)
    assert model.encoder.max_seq_len == 32 and model.backbone.hidden_size == 384
    result = model.predict_texts(["a fine film", "terrible"])
    assert result["probabilities"].shape == (2, 3)


@pytest.mark.jax
def test_forward_and_fit_step_under_jax():
    script = textwrap.dedent("""
        import numpy as np, keras
        from bertcls import BertBackbone, BertClassifier, BertTagger
        assert keras.backend.backend() == "jax"
        backbone = BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2, hidden_size=8,
                                intermediate_size=16)
        model = BertClassifier(backbone, num_classes=3, pooling="mean")
        x = {"input_ids": np.array([[2, 5, 3, 0], [2, 6, 7, 3]], "int32"),
             "attention_mask": np.array([[1, 1, 1, 0], [1, 1, 1, 1]], "int32"),
             "token_type_ids": np.zeros((2, 4), "int32")}
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(x, np.array([0, 2]), epochs=3, verbose=0).history["loss"]
        assert history[-1] < history[0], history
        assert model.predict_on_batch(x).shape == (2, 3)
        from bertcls import FeatureEncoder
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "w1", "w2", "w3", "w4"]
        texted = BertClassifier(backbone, num_classes=3, encoder=FeatureEncoder(vocab))
        assert texted.predict_texts(["good", "bad good", ""])["probabilities"].shape == (3, 3)
        tagger = BertTagger(BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
                                         hidden_size=8, intermediate_size=16), num_tags=3)
        tagger.compile()
        tagger.fit(x, np.array([[-100, 1, -100, -100], [-100, 2, 0, -100]]), verbose=0)
        print("JAX_OK")
    """)
    done = warm_run("jax", ["-c", script], timeout=240)
    assert "JAX_OK" in done.stdout, done.stderr[-3000:]


def test_sorted_batches_cover_every_text_once_in_bucketed_shapes():
    from bertcls.tasks.prediction import sorted_batches, width_multiple
    multiple = width_multiple()
    texts, _ = toy_texts(37, seed=5)
    texts[0] = "very " * 40
    enc = FeatureEncoder(VOCAB, max_seq_len=20, padding="longest")
    seen, previous_longest = [], 0
    for indices, features, _ in sorted_batches(enc, texts, batch_size=8, chunk_size=5):
        width = features["input_ids"].shape[1]
        lengths = features["attention_mask"].sum(1)
        assert width == min(-(-lengths.max() // multiple) * multiple, 20)
        # One width per batch: no row padded past its own bucket.
        assert width == min(-(-lengths.min() // multiple) * multiple, 20)
        assert lengths.min() >= previous_longest  # sorted by length across batches
        previous_longest = lengths.max()
        reference = enc([texts[i] for i in indices])
        for row, i in enumerate(indices):
            n = lengths[row]
            np.testing.assert_array_equal(features["input_ids"][row, :n],
                                          np.asarray(reference["input_ids"])[row, :n])
        seen += indices
    assert sorted(seen) == list(range(37))


def test_large_batches_do_not_mix_widths():
    from bertcls.tasks import prediction
    texts = ["good"] * 30 + ["good " * 20] * 3
    enc = FeatureEncoder(VOCAB, max_seq_len=64, padding="longest")
    shapes = [f["input_ids"].shape
              for _, f, _ in prediction.sorted_batches(enc, texts, batch_size=1024)]
    assert shapes == [(30, 3), (3, 22)]  # TensorFlow: each batch cut to its own length
    # Backends that compile per shape round up to a multiple of 16 instead.
    with mock.patch.object(prediction.keras.backend, "backend", return_value="jax"):
        shapes = [f["input_ids"].shape
                  for _, f, _ in prediction.sorted_batches(enc, texts, batch_size=1024)]
    assert shapes == [(30, 16), (3, 32)]
