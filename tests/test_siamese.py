"""SiameseModel (Sentence-BERT training): each loss against a numpy implementation, one fit
step per objective, the pair pipeline (each side padded on its own), label checks,
MirroredStrategy and JAX."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, FeatureEncoder, MultipleNegativesRankingLoss,
                     SentenceEmbedder, SiameseModel, make_siamese_dataset)
from warm import warm_run

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "the", "very",
         "##s", "plot", "actor", "boring", "fun", "a", "b", "c"]
A = ["good movie", "the very bad movies", "boring plot", "fun fun fun actor", "a", "b c"]
B = ["good plot", "bad", "the plot was very very boring boring boring boring boring",
     "actor", "a b c", "c"]
NEG = ["bad movie", "good", "fun", "boring boring", "c c c", "the a"]
SIMILARITY = np.array([0.9, 0.6, 0.8, 0.3, 0.5, 0.1], "float32")
CLASSES = np.array([0, 1, 2, 0, 1, 2], "int32")


def tiny_embedder(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=16, intermediate_size=32, max_sequence_length=64,
                            dropout=0.0, attention_dropout=0.0)
    return SentenceEmbedder(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=32), **kwargs)


def side(embedder, texts):
    return {k: np.asarray(v) for k, v in embedder.encoder(texts).items()}


def numpy_vectors(embedder, *columns):
    return [keras.ops.convert_to_numpy(embedder(side(embedder, c))).astype(np.float64)
            for c in columns]


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def loss_of(model, x, y):
    return float(keras.ops.convert_to_numpy(model.compute_loss(x, y, model(x), training=False)))


# --- Each loss against numpy (sentence-transformers' definitions) --------------------------

def test_cosine_similarity_loss_is_mse_of_the_cosine():
    embedder = tiny_embedder()
    model = SiameseModel(embedder, objective="cosine")
    model.compile()
    u, v = numpy_vectors(embedder, A, B)
    want = np.mean(((unit(u) * unit(v)).sum(1) - SIMILARITY) ** 2)
    x = {"a": side(embedder, A), "b": side(embedder, B)}
    assert loss_of(model, x, SIMILARITY) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("negatives", [False, True])
def test_multiple_negatives_ranking_loss(negatives):
    embedder = tiny_embedder(pooling="cls")
    model = SiameseModel(embedder, objective="ranking", scale=20.0)
    model.compile()
    u, v, n = numpy_vectors(embedder, A, B, NEG)
    candidates = np.concatenate([v, n]) if negatives else v
    scores = 20.0 * unit(u) @ unit(candidates).T
    want = -np.mean(np.diag(log_softmax(scores)[:, :len(A)]))
    x = {"a": side(embedder, A), "b": side(embedder, B)}
    if negatives:
        x["negative"] = side(embedder, NEG)
    assert tuple(model(x).shape) == (6, 12 if negatives else 6)
    assert loss_of(model, x, None) == pytest.approx(want, rel=1e-5)
    # The loss object alone, on the same scores.
    got = MultipleNegativesRankingLoss()(np.zeros(6), scores.astype("float32"))
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_softmax_loss_classifies_u_v_and_their_difference():
    embedder = tiny_embedder()
    model = SiameseModel(embedder, objective="softmax", num_labels=3)
    model.compile()
    u, v = numpy_vectors(embedder, A, B)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.classifier.weights)
    logits = np.concatenate([u, v, np.abs(u - v)], axis=1) @ kernel + bias
    want = -np.mean(log_softmax(logits)[np.arange(6), CLASSES])
    x = {"a": side(embedder, A), "b": side(embedder, B)}
    assert loss_of(model, x, CLASSES) == pytest.approx(want, rel=1e-5)


# --- Training ------------------------------------------------------------------------------

@pytest.mark.parametrize("objective, columns, labels", [
    ("cosine", (A, B), SIMILARITY),
    ("ranking", (A, B, NEG), None),
    ("softmax", (A, B), CLASSES),
])
def test_one_fit_step_on_bucketed_pairs(objective, columns, labels):
    embedder = tiny_embedder()
    model = SiameseModel(embedder, objective=objective)
    # Eager: the traced path runs in test_mirrored_strategy_trains_like_one_device.
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    before = [w.copy() for w in embedder.backbone.get_weights()]
    data = make_siamese_dataset(columns, labels, encoder=embedder.encoder, batch_size=6)
    history = model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    moved = max(np.abs(a - b).max() for a, b in zip(before, embedder.backbone.get_weights()))
    assert moved > 1e-4  # the shared embedder itself was trained


def test_config_round_trip():
    model = SiameseModel(tiny_embedder(), objective="softmax", num_labels=4, scale=5.0)
    again = SiameseModel.from_config(model.get_config())
    assert (again.objective, again.num_labels, again.scale) == ("softmax", 4, 5.0)
    assert isinstance(again.embedder, SentenceEmbedder)


@pytest.mark.parametrize("objective, labels, message", [
    ("cosine", np.array([4.0, 2.5]), r"divide STS.*\[-1, 1\]"),
    ("cosine", np.array([[0.1, 0.2]]), "shape"),
    ("softmax", np.array([0, 3]), r"\[0, 2\]"),
    ("softmax", np.array([0.5, 1.0]), "whole numbers"),
    ("ranking", np.array([1, 0]), "takes no labels"),
])
def test_bad_labels_raise_before_training(objective, labels, message):
    embedder = tiny_embedder()
    model = SiameseModel(embedder, objective=objective)
    model.compile()
    x = {"a": side(embedder, A[:2]), "b": side(embedder, B[:2])}
    with pytest.raises(ValueError, match=message):
        model.fit(x, labels, verbose=0)
    data = make_siamese_dataset((A[:2], B[:2]), labels if labels.ndim == 1 else None,
                                encoder=embedder.encoder)
    if labels.ndim == 1:
        with pytest.raises(ValueError, match=message):
            model.fit(data, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(objective="triplet"), "one of"),
    (dict(scale=0), "positive number"),
    (dict(num_labels=1), ">= 2"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SiameseModel(tiny_embedder(), **kwargs)
    with pytest.raises(ValueError, match="SentenceEmbedder"):
        SiameseModel(keras.Sequential())


def test_call_errors():
    embedder = tiny_embedder()
    with pytest.raises(ValueError, match="`a` and `b`"):
        SiameseModel(embedder)(side(embedder, A))
    x = {"a": side(embedder, A), "b": side(embedder, B), "negative": side(embedder, NEG)}
    with pytest.raises(ValueError, match="only used by objective='ranking'"):
        SiameseModel(embedder, objective="cosine")(x)


# --- The pair pipeline ---------------------------------------------------------------------

def decode(encoder, ids):
    return encoder.decode([int(i) for i in ids], skip_special_tokens=True)


def test_pairs_stay_together_and_each_side_is_padded_on_its_own():
    encoder = FeatureEncoder(VOCAB, max_seq_len=64)
    long_a = [" ".join(["good"] * n) for n in range(1, 41)]
    short_b = ["movie" if n % 2 else "bad" for n in range(1, 41)]
    labels = np.arange(40, dtype="float32") / 40
    data = make_siamese_dataset((long_a, short_b), labels, encoder=encoder, batch_size=4,
                                shuffle=True, seed=3)
    seen = set()
    for x, y in data:
        ids_a, ids_b = x["a"]["input_ids"].numpy(), x["b"]["input_ids"].numpy()
        mask_a, mask_b = x["a"]["attention_mask"].numpy(), x["b"]["attention_mask"].numpy()
        assert ids_a.shape[1] in (16, 32, 64) and ids_b.shape[1] == 16  # b: its own width
        assert ids_a.shape[1] == min(w for w in (16, 32, 64) if w >= mask_a.sum(1).max())
        assert np.all(ids_a[mask_a == 0] == 0) and np.all(ids_b[mask_b == 0] == 0)
        for row in range(len(y)):
            i = int(round(float(y[row]) * 40))
            assert decode(encoder, ids_a[row]) == long_a[i]
            assert decode(encoder, ids_b[row]) == short_b[i]
            seen.add(i)
    assert seen == set(range(40))


def test_triplets_fixed_length_and_no_labels():
    encoder = FeatureEncoder(VOCAB, max_seq_len=24)
    data = make_siamese_dataset((A, B, NEG), encoder=encoder, batch_size=4,
                                bucket_lengths=None)
    batches = list(data)
    assert [len(x["a"]["input_ids"]) for x in batches] == [4, 2]
    for x in batches:
        assert set(x) == {"a", "b", "negative"}
        assert all(x[s]["input_ids"].shape[1] == 24 for s in x)


@pytest.mark.parametrize("texts, kwargs, message", [
    ((A, B[:3]), {}, "differ in length"),
    ([A, B], {}, "must be a tuple"),
    ((A,), {}, "of 1 items"),
    ((A, B), dict(encoder=None), "FeatureEncoder"),
    ((A, [1] * 6), {}, "item 0 is int"),
    ((A, B), dict(batch_size=0), "positive integer"),
])
def test_pipeline_errors(texts, kwargs, message):
    kwargs = dict(dict(encoder=FeatureEncoder(VOCAB)), **kwargs)
    with pytest.raises(ValueError, match=message):
        make_siamese_dataset(texts, **kwargs)


# --- Distribution and JAX ------------------------------------------------------------------

@pytest.mark.slow  # about a minute on an idle 2-core machine: three traced fits
def test_mirrored_strategy_trains_like_one_device():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_DISTRIBUTION")}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "distribute_scripts" / "siamese_mirrored.py")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    found = json.loads(lines[-1][len("RESULT "):])
    assert found["strategy"] == "MirroredStrategy" and found["num_replicas"] == 2
    assert found["cosine"]["moved"] > 1e-3, found
    assert found["cosine"]["max_difference"] < 1e-5, found
    assert all(np.isfinite(found["ranking"]["loss"]))


@pytest.mark.jax
def test_fit_under_jax():
    script = """
import numpy as np, keras
assert keras.backend.backend() == "jax"
from bertcls import (BertBackbone, FeatureEncoder, SentenceEmbedder, SiameseModel,
                     make_siamese_dataset)
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie", "plot"]
encoder = FeatureEncoder(vocab, max_seq_len=16)
a, b = ["good movie", "bad", "plot", "good"], ["good plot", "bad movie", "movie", "bad bad"]
# Ranking: the objective whose loss runs without labels (compute_loss supplies them).
for objective, labels in (("ranking", None),):
    backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16)
    model = SiameseModel(SentenceEmbedder(backbone, encoder=encoder), objective=objective)
    model.compile()
    history = model.fit(make_siamese_dataset((a, b), labels, encoder=encoder, batch_size=4),
                        verbose=0)
    assert np.isfinite(history.history["loss"][0]), objective
    assert model.embedder.embed(["good movie"]).shape == (1, 8)
print("JAX-OK")
"""
    result = warm_run("jax", ["-c", script], timeout=600)
    assert "JAX-OK" in result.stdout, result.stderr[-3000:]
