"""BertBackbone: construction, config, inputs/outputs, padding semantics, dtypes, backends."""

import inspect
import json
import os

import keras
import numpy as np
import pytest

import bertcls
from bertcls import BertBackbone
from bertcls.models import checkpoints as checkpoints_module
from bertcls.models.activations import get_activation
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_size=8, intermediate_size=16)
HF_TINY = {"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2,
           "num_attention_heads": 2, "intermediate_size": 16}


def batch(lengths=(5, 3), length=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, 30, size=(len(lengths), length)).astype("int32")
    mask = (np.arange(length)[None] < np.array(lengths)[:, None]).astype("int32")
    types = np.zeros_like(ids)
    types[0, 3:] = 1
    return {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": types * mask}


def numpy_outputs(model, inputs, **kwargs):
    return {k: keras.ops.convert_to_numpy(keras.ops.cast(v, "float32"))
            for k, v in model(inputs, **kwargs).items()}


def test_exported():
    assert bertcls.BertBackbone is BertBackbone
    assert "BertBackbone" in bertcls.__all__
    assert issubclass(bertcls.UnsafeCheckpointError, ValueError)
    assert "UnsafeCheckpointError" in bertcls.__all__


def test_dict_in_dict_out():
    model = BertBackbone(**TINY)
    out = model(batch())
    assert set(out) == {"sequence_output", "pooled_output"}
    assert tuple(out["sequence_output"].shape) == (2, 6, 8)
    assert tuple(out["pooled_output"].shape) == (2, 8)
    assert out["sequence_output"].dtype == "float32"
    assert model.hidden_size == 8
    pooled = keras.ops.convert_to_numpy(out["pooled_output"])
    assert np.all(np.abs(pooled) <= 1.0)  # tanh


def test_extra_input_keys_are_ignored():
    # The encoder may return `offsets`; it must not shift the other inputs.
    model = BertBackbone(**TINY)
    inputs = batch()
    with_offsets = dict(inputs, offsets=np.zeros((2, 6, 2), "int32"))
    a, b = numpy_outputs(model, inputs), numpy_outputs(model, with_offsets)
    np.testing.assert_array_equal(a["sequence_output"], b["sequence_output"])


def test_missing_input_raises():
    model = BertBackbone(**TINY)
    inputs = batch()
    del inputs["attention_mask"]
    with pytest.raises(ValueError, match="attention_mask"):
        model(inputs)


def test_too_long_input_raises():
    model = BertBackbone(**TINY, max_sequence_length=4)
    with pytest.raises(ValueError, match="Sequence length 6 exceeds max_sequence_length 4"):
        model(batch(length=6))


def test_padding_positions_get_no_attention():
    # Longer padding with different pad ids must not change non-padding outputs.
    keras.utils.set_random_seed(0)
    model = BertBackbone(**TINY)
    inputs = batch(length=6)
    padded = {k: np.pad(v, ((0, 0), (0, 4))) for k, v in inputs.items()}
    padded["input_ids"][:, 6:] = 7  # garbage ids under a zero mask
    a, b = numpy_outputs(model, inputs), numpy_outputs(model, padded)
    mask = inputs["attention_mask"][..., None].astype(bool)
    np.testing.assert_allclose(np.where(mask, b["sequence_output"][:, :6], 0),
                               np.where(mask, a["sequence_output"], 0), atol=1e-6)
    np.testing.assert_allclose(b["pooled_output"], a["pooled_output"], atol=1e-6)
    # ...while a visible token does change them.
    unmasked = dict(padded, attention_mask=np.ones_like(padded["attention_mask"]))
    c = numpy_outputs(model, unmasked)
    # (Sequence outputs are layer-normalised, O(1): a visible token moves them far more than
    # the 1e-6 tolerance above; the pooled output of a random tiny model moves far less.)
    changed = np.abs(np.where(mask, c["sequence_output"][:, :6] - a["sequence_output"], 0))
    assert changed.max() > 1e-3
    assert np.abs(c["pooled_output"] - a["pooled_output"]).max() > 1e-6


def test_get_config_matches_constructor_and_round_trips():
    model = BertBackbone(**TINY, hidden_act="relu", dropout=0.2, attention_dropout=0.3,
                         max_sequence_length=64, type_vocab_size=3, layer_norm_epsilon=1e-6,
                         initializer_range=0.05, name="my_bert")
    config = model.get_config()
    params = set(inspect.signature(BertBackbone.__init__).parameters) - {"self", "kwargs"}
    assert set(config) - {"name", "trainable"} == params
    for name in params - {"dtype"}:
        assert config[name] == getattr(model, name)
    assert config["name"] == "my_bert"
    clone = BertBackbone.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    inputs = batch()
    np.testing.assert_array_equal(numpy_outputs(clone, inputs)["sequence_output"],
                                  numpy_outputs(model, inputs)["sequence_output"])


def test_keras_file_round_trip(tmp_path):
    model = BertBackbone(**TINY)
    path = str(tmp_path / "backbone.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BertBackbone)
    inputs = batch()
    np.testing.assert_array_equal(numpy_outputs(loaded, inputs)["pooled_output"],
                                  numpy_outputs(model, inputs)["pooled_output"])


def test_dropout_rates_and_training_mode():
    model = BertBackbone(**TINY, dropout=0.2, attention_dropout=0.4)
    attention = model.transformer_layers[0]._self_attention_layer
    assert attention.dropout == 0.4
    assert model.embeddings_dropout.rate == 0.2
    inputs = batch()
    a, b = numpy_outputs(model, inputs), numpy_outputs(model, inputs)
    np.testing.assert_array_equal(a["sequence_output"], b["sequence_output"])
    c = numpy_outputs(model, inputs, training=True)
    assert np.abs(c["sequence_output"] - a["sequence_output"]).max() > 1e-3


def test_fit_one_step():
    model = BertBackbone(**TINY)
    inputs = {k: keras.Input((None,), dtype="int32", name=k)
              for k in ("input_ids", "attention_mask", "token_type_ids")}
    logits = keras.layers.Dense(2)(model(inputs)["pooled_output"])
    classifier = keras.Model(inputs, logits)
    classifier.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = keras.ops.convert_to_numpy(model.token_embedding.embeddings).copy()
    history = classifier.fit(batch(), np.array([0, 1]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert np.abs(keras.ops.convert_to_numpy(model.token_embedding.embeddings) - before).max() > 0


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_policy(policy):
    model = BertBackbone(**TINY, dtype=policy)
    out = model(batch())
    compute = policy.split("_")[1]
    assert out["sequence_output"].dtype == compute
    assert all(w.dtype == "float32" for w in model.weights)
    assert model.get_config()["dtype"] == policy
    reference = BertBackbone(**TINY)
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(numpy_outputs(model, batch())["sequence_output"],
                               numpy_outputs(reference, batch())["sequence_output"], atol=0.1)


def test_dtype_policy_object_round_trips():
    model = BertBackbone(**TINY, dtype=keras.DTypePolicy("mixed_bfloat16"))
    clone = BertBackbone.from_config(json.loads(json.dumps(model.get_config())))
    assert clone(batch())["sequence_output"].dtype == "bfloat16"


def test_activations():
    x = np.linspace(-3, 3, 13).astype("float32")
    exact = keras.ops.convert_to_numpy(get_activation("gelu")(x))
    approximate = keras.ops.convert_to_numpy(get_activation("gelu_new")(x))
    from math import erf, sqrt
    np.testing.assert_allclose(exact, [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x], atol=1e-6)
    assert np.abs(exact - approximate).max() > 1e-4
    for name in ("gelu_pytorch_tanh", "gelu_fast"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(get_activation(name)(x)), approximate)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(get_activation("relu")(x)),
                                  np.maximum(x, 0))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"hidden_act 'swish'.*gelu"):
        BertBackbone(**dict(TINY, hidden_size=8), hidden_act="swish")
    with pytest.raises(ValueError, match="multiple of num_heads.*hidden_size=8, num_heads=3"):
        BertBackbone(**dict(TINY, num_heads=3))
    with pytest.raises(ValueError, match="num_heads must be a positive int, received 0"):
        BertBackbone(**dict(TINY, num_heads=0))
    with pytest.raises(ValueError, match="vocabulary_size must be a positive int, received '30'"):
        BertBackbone(**dict(TINY, vocabulary_size="30"))


def test_from_hf_config_mapping(tmp_path):
    config = dict(HF_TINY, hidden_act="gelu_new", hidden_dropout_prob=0.2,
                  attention_probs_dropout_prob=0.3, max_position_embeddings=64,
                  type_vocab_size=3, layer_norm_eps=1e-7, initializer_range=0.1,
                  model_type="bert", architectures=["BertForMaskedLM"], use_cache=True)
    model = BertBackbone.from_hf_config(config)
    expected = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_size=8,
                    intermediate_size=16, hidden_act="gelu_new", dropout=0.2,
                    attention_dropout=0.3, max_sequence_length=64, type_vocab_size=3,
                    layer_norm_epsilon=1e-7, initializer_range=0.1)
    for name, value in expected.items():
        assert getattr(model, name) == value, name
    assert model.position_embedding.position_embeddings.shape == (64, 8)
    # A path to config.json or its directory works too, and overrides win.
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert BertBackbone.from_hf_config(str(tmp_path), dropout=0.0).dropout == 0.0
    assert BertBackbone.from_hf_config(tmp_path / "config.json").hidden_act == "gelu_new"
    # to_hf_config maps back.
    hf = model.to_hf_config()
    for key, value in config.items():
        if key not in ("architectures", "use_cache"):
            assert hf[key] == value, key
    again = BertBackbone.from_hf_config(hf, name=model.name)
    assert again.get_config() == model.get_config()


@pytest.mark.parametrize("change, message", [
    ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key'"),
    ({"hidden_act": "silu"}, "hidden_act 'silu'; accepted values are gelu"),
    ({"is_decoder": True}, "is_decoder=True"),
    ({"add_cross_attention": True}, "add_cross_attention=True"),
    ({"model_type": "roberta"}, "model_type 'roberta'"),
    ({"embedding_size": 4}, "embedding_size 4"),
])
def test_unsupported_hf_config_raises(change, message):
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_hf_config(dict(HF_TINY, **change))


def test_hf_config_missing_keys_and_type():
    config = dict(HF_TINY)
    del config["num_attention_heads"]
    with pytest.raises(ValueError, match="num_attention_heads"):
        BertBackbone.from_hf_config(config)
    with pytest.raises(ValueError, match="must be a dict"):
        checkpoints_module.hf_config_to_kwargs(["vocab_size"])


def test_exact_gelu_gradient_equals_autodiff():
    # "gelu" has its gradient written out (training keeps only the input): its values are
    # Keras' exact GELU, and its gradient equals autodiff of the erf formula.
    import tensorflow as tf
    x = tf.constant(np.random.default_rng(0).normal(0, 3, (4096,)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = get_activation("gelu")(x)
        reference = keras.activations.gelu(x, approximate=False)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))
    np.testing.assert_allclose(np.asarray(tape.gradient(ours, x)),
                               np.asarray(tape.gradient(reference, x)), atol=1e-6)
    assert keras.activations.get(keras.activations.serialize(get_activation("gelu"))) \
        is get_activation("gelu")


@pytest.mark.jax
def test_jax_backend_forward_and_fit():
    script = """
import numpy as np, keras, jax
assert keras.backend.backend() == "jax"
from bertcls import BertBackbone
from bertcls.models.activations import gelu_exact
x = np.random.default_rng(0).normal(0, 3, (512,)).astype("float32")
ours = jax.grad(lambda v: gelu_exact(v).sum())(x)
reference = jax.grad(lambda v: keras.activations.gelu(v, approximate=False).sum())(x)
assert np.abs(np.asarray(ours) - np.asarray(reference)).max() < 1e-6
model = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2, hidden_size=8,
                     intermediate_size=16)
ids = np.array([[2, 5, 6, 3, 0, 0]], "int32")
inputs = {"input_ids": ids, "attention_mask": (ids > 0).astype("int32"),
          "token_type_ids": np.zeros_like(ids)}
out = model(inputs)
assert out["sequence_output"].shape == (1, 6, 8), out["sequence_output"].shape
model.compile("adam", {"sequence_output": "mse", "pooled_output": "mse"})
model.fit(inputs, {"sequence_output": np.zeros((1, 6, 8)), "pooled_output": np.zeros((1, 8))},
          verbose=0)
print("JAX-OK")
"""
    result = warm_run("jax", ["-c", script], timeout=300)
    assert "JAX-OK" in result.stdout, result.stderr[-3000:]
