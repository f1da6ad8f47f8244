"""BertRegressor (cross-encoder regression) and the Pearson / Spearman metrics."""

import inspect

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from bertcls import (BertBackbone, BertRegressor, FeatureEncoder, StreamingPearson,
                     get_strategy, make_dataset, pearson, spearman)
from bertcls.tasks.correlation import rank

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "woman", "plays",
         "guitar", "cooks", "rice", "dog", "runs"]
WORDS = VOCAB[5:]


def tiny_backbone(seed=0):
    keras.utils.set_random_seed(seed)
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=16,
                        intermediate_size=32, dropout=0.0, attention_dropout=0.0)


def encoder():
    return FeatureEncoder(VOCAB, max_seq_len=24)


def toy_pairs(n, seed=0):
    """Pairs whose score (0-5) depends on both halves: 2.5 for "man" in the first, 2.5 for
    "dog" in the second."""
    rng = np.random.default_rng(seed)
    a, b, scores = [], [], []
    for _ in range(n):
        left, right = list(rng.choice(WORDS, size=3)), list(rng.choice(WORDS, size=3))
        a.append(" ".join(left))
        b.append(" ".join(right))
        scores.append(2.5 * ("man" in left) + 2.5 * ("dog" in right))
    return (a, b), np.array(scores, "float32")


# === Metrics ===

@pytest.mark.parametrize("seed", range(6))
def test_pearson_and_spearman_equal_scipy_incl_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    x = rng.normal(size=n)
    y = 0.3 * x + rng.normal(size=n)
    if seed % 2:  # STS-like scores: few distinct values, many ties on both sides
        x = np.round(rng.uniform(0, 5, size=n), 0)
        y = np.round(x + rng.normal(size=n), 1)
    if seed == 5:
        x, y = x * 1e6 + 1e9, y * 1e-6  # large offset, small scale
    assert pearson(x, y) == pytest.approx(scipy.stats.pearsonr(x, y)[0], abs=1e-12)
    assert spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y)[0], abs=1e-12)
    np.testing.assert_array_equal(rank(x), scipy.stats.rankdata(x))
    assert isinstance(pearson(list(x), list(y)), float)


def test_metrics_per_column_and_edge_cases():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    np.testing.assert_allclose(pearson(x, y), [scipy.stats.pearsonr(x[:, i], y[:, i])[0]
                                               for i in range(3)], atol=1e-12)
    np.testing.assert_allclose(spearman(x, y), [scipy.stats.spearmanr(x[:, i], y[:, i])[0]
                                                for i in range(3)], atol=1e-12)
    assert pearson(x[:, :1], y[:, :1]) == pytest.approx(pearson(x[:, 0], y[:, 0]))
    assert pearson([1, 2], [2, 1]) == pytest.approx(-1.0)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3])) and np.isnan(spearman([1, 2, 3], [4, 4, 4]))


@pytest.mark.parametrize("x, y, message", [
    ([1, 2], [1, 2, 3], "same shape"),
    ([1], [1], "at least 2"),
    ([1, np.nan], [1, 2], "NaN"),
    (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), r"\(n,\) or \(n, k\)"),
])
def test_metric_errors(x, y, message):
    for fn in (pearson, spearman):
        with pytest.raises(ValueError, match=message):
            fn(x, y)


def test_streaming_pearson_over_batches_equals_scipy():
    rng = np.random.default_rng(1)
    y_true = np.round(rng.uniform(0, 5, 203), 1)
    y_pred = y_true + rng.normal(scale=2.0, size=203) + 100.0  # offset: stability check
    metric = StreamingPearson()
    for start in range(0, 203, 17):
        metric.update_state(y_true[start:start + 17, None], y_pred[start:start + 17, None])
    assert float(metric.result()) == pytest.approx(scipy.stats.pearsonr(y_true, y_pred)[0],
                                                   abs=1e-5)
    metric.reset_state()
    metric.update_state(y_true[:50], y_pred[:50])
    assert float(metric.result()) == pytest.approx(pearson(y_true[:50], y_pred[:50]), abs=1e-5)
    # Weighted: weight 2 is the same as the row twice.
    weights = rng.integers(1, 3, 203)
    metric.reset_state()
    for start in range(0, 203, 40):
        part = slice(start, start + 40)
        metric.update_state(y_true[part], y_pred[part], sample_weight=weights[part])
    repeated = np.repeat(np.arange(203), weights)
    assert float(metric.result()) == pytest.approx(
        pearson(y_true[repeated], y_pred[repeated]), abs=1e-5)
    two = StreamingPearson(num_outputs=2)
    pair_true, pair_pred = np.stack([y_true, -y_true], 1), np.stack([y_pred, y_pred], 1)
    two.update_state(pair_true[:100], pair_pred[:100])
    two.update_state(pair_true[100:], pair_pred[100:])
    assert float(two.result()) == pytest.approx(np.mean(pearson(pair_true, pair_pred)), abs=1e-5)
    assert StreamingPearson.from_config(two.get_config()).num_outputs == 2


# === The regressor ===

def test_fit_on_pairs_learns_and_evaluates_pearson():
    (a, b), scores = toy_pairs(96)
    model = BertRegressor(tiny_backbone(), encoder=encoder(), dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    x = {k: np.asarray(v) for k, v in model.encoder((a, b)).items()}
    evaluation = make_dataset((a, b), scores, encoder=model.encoder, batch_size=32)
    before = model.evaluate(evaluation, verbose=0, return_dict=True)
    model.fit(x, scores, epochs=20, batch_size=16, verbose=0)
    after = model.evaluate(evaluation, verbose=0, return_dict=True)
    assert after["loss"] < 0.5 * before["loss"]
    predicted = model.predict_texts((a, b), batch_size=8)
    assert predicted.shape == (96,) and predicted.dtype == np.float32
    # The Keras metric over the whole set equals the function on predict_texts' output.
    assert after["pearson"] == pytest.approx(pearson(scores, predicted), abs=1e-4)
    assert pearson(scores, predicted) > 0.5
    direct = np.asarray(model(model.encoder((a, b))))[:, 0]
    np.testing.assert_allclose(predicted, direct, rtol=1e-5, atol=1e-5)
    assert model.predict_text((a[0], b[0])) == pytest.approx(direct[0], rel=1e-5, abs=1e-5)
    assert isinstance(model.predict_text(a[0]), float)


def test_several_outputs_and_keras_round_trip(tmp_path):
    (a, b), scores = toy_pairs(8, seed=2)
    y = np.stack([scores, 5 - scores], axis=1)
    model = BertRegressor(tiny_backbone(), num_outputs=2, pooling="mean", encoder=encoder())
    model.compile()
    model.fit(model.encoder((a, b)), y, epochs=1, verbose=0)
    assert model.predict_texts((a, b)).shape == (8, 2)
    assert model.predict_text((a[0], b[0])).shape == (2,)
    path = tmp_path / "regressor.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BertRegressor) and loaded.compiled
    np.testing.assert_array_equal(loaded.predict_texts((a, b)), model.predict_texts((a, b)))
    assert loaded.get_config()["num_outputs"] == 2 and loaded.pooling == "mean"
    loaded.evaluate(loaded.encoder((a, b)), y, verbose=0)


def test_config_round_trip_matches_constructor():
    model = BertRegressor(tiny_backbone(), num_outputs=3, dropout=0.2, encoder=encoder())
    config = model.get_config()
    params = set(inspect.signature(BertRegressor.__init__).parameters) - {"self", "kwargs"}
    assert params <= set(config)
    clone = BertRegressor.from_config(config)
    assert clone.get_config() == config


def test_under_a_strategy():
    runtime = get_strategy("cpu")
    with runtime.scope():
        model = BertRegressor(tiny_backbone(), encoder=encoder())
        model.compile()
    (a, b), scores = toy_pairs(16, seed=3)
    history = model.fit(make_dataset((a, b), scores, encoder=model.encoder, batch_size=8),
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("kwargs, y, message", [
    ({}, [[1.0, 2.0], [3.0, 4.0]], r"shape \(batch,\) or \(batch, 1\)"),
    ({"num_outputs": 2}, [1.0, 2.0], r"shape \(batch, 2\)"),
    ({}, [1.0, np.inf], "NaN or infinite"),
    ({}, ["a", "b"], "numeric"),
])
def test_bad_targets_raise_before_training(kwargs, y, message):
    model = BertRegressor(tiny_backbone(), **kwargs)
    model.compile()
    x = {k: np.asarray(v) for k, v in encoder()(["a man", "a dog"]).items()}
    with pytest.raises(ValueError, match=message):
        model.fit(x, np.array(y), epochs=1, verbose=0)
    nan = np.zeros((2, model.num_outputs), "float32")
    nan[1, 0] = np.nan
    bad = tf.data.Dataset.from_tensor_slices((x, nan)).batch(2)
    with pytest.raises(ValueError, match="NaN"):
        model.evaluate(bad, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_outputs": 0}, "num_outputs"),
    ({"num_outputs": True}, "num_outputs"),
    ({"pooling": "max"}, "pooling"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertRegressor(tiny_backbone(), **kwargs)


def test_from_preset(minilm_path):
    model = BertRegressor.from_preset(minilm_path, max_seq_len=32)
    assert model.encoder.max_seq_len == 32 and model.backbone.hidden_size == 384
    assert model.predict_texts((["a man plays"], ["a man plays guitar"])).shape == (1,)
