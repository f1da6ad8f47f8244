"""Hugging Face `hidden_act` names -> Keras activations."""

import keras

# Hugging Face `hidden_act` names (see `get_activation`). "gelu" is the exact
# (erf) GELU that BertModel uses; the tanh approximation is what keras-hub's own
# BertBackbone hard-codes and differs from it by ~4e-3 on real checkpoints.
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")


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
        return keras.activations.gelu  # approximate=False by default: erf
    if hidden_act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return gelu_approximate
    if hidden_act == "relu":
        return keras.activations.relu
    raise ValueError(
        f"Unsupported hidden_act {hidden_act!r}; accepted values are "
        f"{', '.join(HIDDEN_ACTIVATIONS)}.")
