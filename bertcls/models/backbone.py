"""`BertBackbone`: a Keras 3 BERT encoder that loads Hugging Face checkpoints exactly.

Built from keras-hub's `TransformerEncoder` and `PositionEmbedding` layers with
the activation BERT was trained with (exact erf GELU for Hugging Face's
`"gelu"`), in `keras.ops` only, so it runs on the TensorFlow and JAX backends.
"""

import json
import numbers
import os

import keras
from keras_hub.layers import PositionEmbedding, TransformerEncoder

from bertcls.models.activations import get_activation
from bertcls.models.checkpoints import (hf_config_to_kwargs, kwargs_to_hf_config, load_backbone,
                                        save_backbone)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@keras.saving.register_keras_serializable(package="bertcls")
class BertTransformerLayer(TransformerEncoder):
    """keras-hub's post-norm `TransformerEncoder` with a separate attention dropout.

    BERT drops attention probabilities at `attention_probs_dropout_prob` and
    hidden states at `hidden_dropout_prob`; keras-hub uses one rate for both.

    Args:
        attention_dropout: dropout rate on the attention probabilities.
        **kwargs: passed to `keras_hub.layers.TransformerEncoder`.
    """

    def __init__(self, attention_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.attention_dropout = attention_dropout

    def build(self, inputs_shape):
        super().build(inputs_shape)
        # keras.layers.MultiHeadAttention reads `_dropout` at call time and
        # holds its dropout layer from build; set both to the attention rate.
        self._self_attention_layer._dropout = self.attention_dropout
        self._self_attention_layer._dropout_layer.rate = self.attention_dropout

    def get_config(self):
        config = super().get_config()
        config["attention_dropout"] = self.attention_dropout
        return config


@keras.saving.register_keras_serializable(package="bertcls")
class BertBackbone(keras.Model):
    """A BERT encoder with Hugging Face `BertModel` semantics.

    Embeddings (word + absolute position + token type, LayerNorm, dropout),
    `num_layers` post-norm transformer layers, and the pooler (dense + tanh on
    the [CLS] position). Padding positions (`attention_mask == 0`) receive no
    attention, exactly as in Hugging Face.

    Args:
        vocabulary_size: int, number of token ids (`vocab_size`).
        num_layers: int, transformer layers (`num_hidden_layers`).
        num_heads: int, attention heads (`num_attention_heads`).
        hidden_size: int, width of the hidden states.
        intermediate_size: int, width of the feed-forward layers.
        hidden_act: Hugging Face activation name: `"gelu"` (exact, BERT's
            default), `"gelu_new"` / `"gelu_pytorch_tanh"` / `"gelu_fast"`
            (tanh approximation) or `"relu"`.
        dropout: dropout on embeddings and hidden states
            (`hidden_dropout_prob`).
        attention_dropout: dropout on attention probabilities
            (`attention_probs_dropout_prob`).
        max_sequence_length: int, number of position embeddings
            (`max_position_embeddings`).
        type_vocab_size: int, number of token type (segment) ids.
        layer_norm_epsilon: float, LayerNorm epsilon (`layer_norm_eps`).
        initializer_range: float, stddev of the truncated-normal initializer.
        dtype: None, a dtype or a `keras.DTypePolicy` such as
            `"mixed_bfloat16"`; None uses the global policy.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Call arguments:
        inputs: dict with int tensors `input_ids`, `attention_mask` and
            `token_type_ids`, each `(batch, length)` (the `FeatureEncoder`'s
            output).

    Returns:
        dict with `sequence_output` `(batch, length, hidden_size)` and
        `pooled_output` `(batch, hidden_size)`.

    Example:

    >>> import numpy as np
    >>> backbone = BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> outputs = backbone({
    ...     "input_ids": np.array([[2, 5, 6, 3, 0]]),
    ...     "attention_mask": np.array([[1, 1, 1, 1, 0]]),
    ...     "token_type_ids": np.zeros((1, 5), "int32")})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 8), (1, 8))
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_size,
        intermediate_size,
        hidden_act="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        max_sequence_length=512,
        type_vocab_size=2,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        dtype=None,
        **kwargs,
    ):
        activation = get_activation(hidden_act)
        sizes = dict(vocabulary_size=vocabulary_size, num_layers=num_layers,
                     num_heads=num_heads, hidden_size=hidden_size,
                     intermediate_size=intermediate_size,
                     max_sequence_length=max_sequence_length,
                     type_vocab_size=type_vocab_size)
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, received {value!r}.")
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size must be a multiple of num_heads; received "
                f"hidden_size={hidden_size}, num_heads={num_heads}.")

        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        # === Layers ===
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_size, embeddings_initializer=initializer(),
            dtype=dtype, name="token_embedding")
        self.position_embedding = PositionEmbedding(
            sequence_length=max_sequence_length, initializer=initializer(),
            dtype=dtype, name="position_embedding")
        self.token_type_embedding = keras.layers.Embedding(
            type_vocab_size, hidden_size, embeddings_initializer=initializer(),
            dtype=dtype, name="token_type_embedding")
        self.embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm")
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout")
        self.transformer_layers = [
            BertTransformerLayer(
                num_heads=num_heads,
                intermediate_dim=intermediate_size,
                activation=activation,
                dropout=dropout,
                attention_dropout=attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=initializer(),
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooler_dense = keras.layers.Dense(
            hidden_size, activation="tanh", kernel_initializer=initializer(),
            dtype=dtype, name="pooler_dense")

        # === Functional Model ===
        input_ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
        attention_mask = keras.Input(shape=(None,), dtype="int32", name="attention_mask")
        token_type_ids = keras.Input(shape=(None,), dtype="int32", name="token_type_ids")
        tokens = self.token_embedding(input_ids)
        x = self.embeddings_add([
            tokens,
            self.position_embedding(tokens),
            self.token_type_embedding(token_type_ids),
        ])
        x = self.embeddings_layer_norm(x)
        x = self.embeddings_dropout(x)
        for layer in self.transformer_layers:
            x = layer(x, padding_mask=attention_mask)
        pooled = self.pooler_dense(x[:, 0, :])
        super().__init__(
            inputs={
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            },
            outputs={"sequence_output": x, "pooled_output": pooled},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        # Functional models keep no dtype policy of their own: remember the argument.
        self._dtype_argument = dtype
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.type_vocab_size = type_vocab_size
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "max_sequence_length": self.max_sequence_length,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
            "dtype": (keras.dtype_policies.serialize(self._dtype_argument)
                      if isinstance(self._dtype_argument, keras.DTypePolicy)
                      else self._dtype_argument),
        }

    def call(self, inputs, training=None, mask=None):
        # Keep only the three id tensors (the encoder may add `offsets`):
        # Functional would otherwise match extra dict entries by position.
        if isinstance(inputs, dict):
            inputs = {k: inputs[k] for k in INPUT_NAMES if k in inputs}
            length = getattr(inputs.get("input_ids"), "shape", (None,))[-1]
            if length is not None and length > self.max_sequence_length:
                raise ValueError(
                    f"Sequence length {length} exceeds max_sequence_length "
                    f"{self.max_sequence_length} (the number of position embeddings); "
                    f"truncate inputs (FeatureEncoder max_seq_len).")
        return super().call(inputs, training=training, mask=mask)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    # === Hugging Face config.json ===

    @classmethod
    def from_hf_config(cls, config, **overrides):
        """Build a randomly initialised backbone from a Hugging Face BERT config.

        Args:
            config: a `config.json` dict, or the path of a `config.json` file
                or of the directory holding it.
            **overrides: constructor arguments that replace the mapped ones
                (e.g. `dtype="mixed_bfloat16"`, `dropout=0.0`).

        Returns:
            A `BertBackbone` (weights not loaded; see `from_preset`).

        Raises:
            ValueError: the config describes something this backbone does not
                implement (see `bertcls.models.checkpoints.hf_config_to_kwargs`).

        Example:

        >>> backbone = BertBackbone.from_hf_config({
        ...     "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
        ...     "num_attention_heads": 2, "intermediate_size": 16})
        >>> backbone.hidden_size
        8
        """
        if isinstance(config, (str, os.PathLike)):
            path = os.fspath(config)
            if os.path.isdir(path):
                path = os.path.join(path, "config.json")
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        kwargs = hf_config_to_kwargs(config)
        kwargs.update(overrides)
        return cls(**kwargs)

    def to_hf_config(self):
        """The Hugging Face `config.json` dict describing this backbone."""
        return kwargs_to_hf_config(self.get_config())

    # === Checkpoints ===

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Load a pretrained backbone from a Hugging Face or keras-hub preset.

        Args:
            preset: a local Hugging Face directory (`config.json` plus
                `model.safetensors`, `pytorch_model.bin` or their sharded
                index), a Hub id such as `"klue/bert-base"` (fetched with
                `bertcls.resolve_preset`), or a local keras-hub BERT preset
                directory (`config.json` naming `keras_hub>BertBackbone` plus
                `model.weights.h5`).
            **overrides: constructor arguments replacing the checkpoint's
                (e.g. `dtype="mixed_bfloat16"`, `dropout=0.2`).

        Returns:
            A `BertBackbone` holding the checkpoint's weights.

        Raises:
            bertcls.PresetError: the preset cannot be found.
            ValueError: the config is unsupported, or a weight is missing,
                unexpected or of the wrong shape (all listed).

        Example:

        >>> import tempfile
        >>> directory = tempfile.mkdtemp()
        >>> tiny = BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
        ...                     hidden_size=8, intermediate_size=16)
        >>> _ = tiny.save_pretrained(directory)
        >>> BertBackbone.from_preset(directory).num_layers
        1
        """
        return load_backbone(cls, preset, **overrides)

    def save_pretrained(self, directory, encoder=None):
        """Write this backbone as a Hugging Face BERT checkpoint.

        `transformers.BertModel.from_pretrained(directory)` loads it to the
        same outputs.

        Args:
            directory: output directory (created if missing).
            encoder: optional tokenizer files to write alongside: a
                `bertcls.FeatureEncoder`, a vocabulary list, or the path of a
                `vocab.txt`. Writes `vocab.txt` and `tokenizer_config.json`.

        Returns:
            The directory path.

        Example:

        >>> import os, tempfile
        >>> directory = tempfile.mkdtemp()
        >>> tiny = BertBackbone(vocabulary_size=5, num_layers=1, num_heads=2,
        ...                     hidden_size=8, intermediate_size=16)
        >>> _ = tiny.save_pretrained(
        ...     directory, encoder=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        >>> sorted(os.listdir(directory))
        ['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']
        """
        return save_backbone(self, directory, encoder=encoder)
