"""Hugging Face `hidden_act` names -> Keras activations."""

import math

import keras

# Hugging Face `hidden_act` names (see `get_activation`). "gelu" is the exact
# (erf) GELU that BertModel uses; the tanh approximation is what keras-hub's own
# BertBackbone hard-codes and differs from it by ~4e-3 on real checkpoints.
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")


@keras.ops.custom_gradient
def _gelu_erf(x):
    y = keras.activations.gelu(x, approximate=False)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        cdf = 0.5 * (1.0 + keras.ops.erf(x / math.sqrt(2.0)))
        pdf = keras.ops.exp(-0.5 * keras.ops.square(x)) * (1.0 / math.sqrt(2.0 * math.pi))
        return upstream * (cdf + x * pdf)

    return y, grad


@keras.saving.register_keras_serializable(package="bertcls")
def gelu_exact(x):
    """The exact (erf) GELU, `keras.activations.gelu(x, approximate=False)`, with its gradient
    written out so that training keeps only `x` for the backward pass.

    Autodiff of the erf formula keeps three intermediates of the feed-forward width per layer
    (`x / sqrt(2)`, `erf(...)`, `0.5 * x`); on MiniLM at 64 x 128 tokens this gradient lowered
    the training step's peak resident memory from 4,541 to 4,072 MB (`benchmarks/memory_probe.py`,
    docs/benchmarks.md). Forward values are Keras' own; the gradient equals autodiff's to
    float rounding (tests/test_backbone.py).
    """
    return _gelu_erf(x)


@keras.saving.register_keras_serializable(package="bertcls")
def gelu_approximate(x):
    """The tanh approximation of GELU (Hugging Face's "gelu_new")."""
    return keras.activations.gelu(x, approximate=True)


def get_activation(hidden_act):
    """Return the Keras activation for a Hugging Face `hidden_act` name.

    Raises:
        ValueError: `hidden_act` is not one of `HIDDEN_ACTIVATIONS`.
    """
    if hidden_act == "gelu":
        return gelu_exact  # erf, as keras.activations.gelu(approximate=False)
    if hidden_act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return gelu_approximate
    if hidden_act == "relu":
        return keras.activations.relu
    raise ValueError(
        f"Unsupported hidden_act {hidden_act!r}; accepted values are "
        f"{', '.join(HIDDEN_ACTIVATIONS)}.")
