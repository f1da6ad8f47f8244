"""The transformer encoder stack every backbone family shares.

`EncoderBackbone` builds embeddings -> (projection) -> post-norm transformer layers ->
(pooler) from keras-hub's `TransformerEncoder` and `PositionEmbedding`, in `keras.ops`
only (TensorFlow and JAX backends), and holds what is common to the families: input
filtering, the length check, `get_config`, the Hugging Face config and checkpoint
round trip. A family module (`backbone.py` for BERT, `roberta.py`, `electra.py`,
`albert.py`, `distilbert.py`) states only what differs: its constructor arguments and
config keys, the stack options below, and its Hugging Face weight names.

Stack options (`_build_stack`):
    embedding_size: width of the embeddings when it differs from `hidden_size`.
    embedding_projection: a dense layer maps the embeddings to `hidden_size` (ELECTRA
        when `embedding_size != hidden_size`, ALBERT always).
    padding_idx: when set, position ids start after it and padding tokens get it
        (RoBERTa / XLM-R: `create_position_ids_from_input_ids`); else positions are
        `0..length-1`.
    type_vocab_size: 0 means no token type embedding (DistilBERT).
    share_layers: one transformer layer's weights applied `num_layers` times (ALBERT).
    pooler: a dense + tanh layer on the first position (`pooled_output`).
"""

import numbers
import os

import keras
from keras import ops
from keras_hub.layers import PositionEmbedding, TransformerEncoder

from bertcls.models.activations import get_activation
from bertcls.models.checkpoints import (BERT_LAYER_NAMES, Weight, load_backbone,  # noqa: F401
                                        save_backbone)
from bertcls.models.config import read_json_object, validate_backbone_args, validate_hf_config

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
        if self.attention_dropout == self.dropout:
            super().build(inputs_shape)
            return
        # keras-hub builds every dropout with `self.dropout`. Build with the attention rate,
        # so that keras' MultiHeadAttention creates its dropout (and, for a rate > 0, the
        # seed generator it needs in training) with it, then give the two hidden-state
        # dropouts their own rate. Changing `Dropout.rate` after build instead breaks `fit`
        # when the layer was built with rate 0 ("no attribute 'seed_generator'").
        hidden_rate = self.dropout
        self.dropout = self.attention_dropout
        try:
            super().build(inputs_shape)
        finally:
            self.dropout = hidden_rate
        for name in ("_self_attention_dropout", "_feedforward_dropout"):
            layer = getattr(self, name)
            delattr(self, name)
            setattr(self, name, keras.layers.Dropout(
                rate=hidden_rate, dtype=self.dtype_policy, name=layer.name))

    def get_config(self):
        config = super().get_config()
        config["attention_dropout"] = self.attention_dropout
        return config


def check_sizes(**sizes):
    """Raise ValueError unless every value is a positive int (bools refused)."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, received {value!r}.")


def layer_weights(layer, prefix, names):
    """Hugging Face name -> `Weight` for one transformer layer.

    Args:
        layer: a `BertTransformerLayer`.
        prefix: the layer's Hugging Face prefix, e.g. `"encoder.layer.0."`.
        names: role -> Hugging Face sub-name (see `BERT_LAYER_NAMES`).
    """
    attention = layer._self_attention_layer
    weights = {}
    for role, dense in (("query", attention._query_dense), ("key", attention._key_dense),
                        ("value", attention._value_dense)):
        weights[f"{prefix}{names[role]}.weight"] = Weight(dense.kernel, "qkv_kernel")
        weights[f"{prefix}{names[role]}.bias"] = Weight(dense.bias, "qkv_bias")
    for role, dense, kind in (
            ("attention_output", attention._output_dense, "attention_output"),
            ("intermediate", layer._feedforward_intermediate_dense, "linear"),
            ("output", layer._feedforward_output_dense, "linear")):
        weights[f"{prefix}{names[role]}.weight"] = Weight(dense.kernel, kind)
        weights[f"{prefix}{names[role]}.bias"] = Weight(dense.bias)
    for role, norm in (("attention_norm", layer._self_attention_layer_norm),
                       ("output_norm", layer._feedforward_layer_norm)):
        weights[f"{prefix}{names[role]}.weight"] = Weight(norm.gamma)
        weights[f"{prefix}{names[role]}.bias"] = Weight(norm.beta)
    return weights


def dense_weights(dense, name):
    """`{name}.weight` / `{name}.bias` for a Keras Dense layer."""
    return {f"{name}.weight": Weight(dense.kernel, "linear"), f"{name}.bias": Weight(dense.bias)}


def norm_weights(norm, name):
    """`{name}.weight` / `{name}.bias` for a Keras LayerNormalization."""
    return {f"{name}.weight": Weight(norm.gamma), f"{name}.bias": Weight(norm.beta)}


def read_hf_config(config):
    """A `config.json` dict, or the dict read (and type-checked) from a path to it or its
    directory; a `CheckpointError` naming the file if it cannot be read or is invalid."""
    if isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        config = read_json_object(path, "config")
        validate_hf_config(config, path)
    return config


class EncoderBackbone(keras.Model):
    """The shared encoder stack; subclass it per family (see the module docstring).

    A family sets these class attributes:
        model_type: `config.json`'s `model_type`.
        hf_prefix: the base-model prefix in task checkpoints (`"bert"`, `"roberta"`...).
        hf_architecture: the transformers class name stem (`"Bert"`, `"Roberta"`...).
        skipped_prefixes: checkpoint entries that are heads, not backbone weights.
        pooler_names: the pooler's Hugging Face weight names (empty: no pooler).
        shares_layers: one stored layer serves every depth (ALBERT).
        classifier_head: `BertHead` options of the family's sequence-classification head.
        hf_classifier_names: role (`"hidden"`, `"output"`) -> Hugging Face name of the
            sequence-classification head's dense layers.
    and implements `hf_config_to_kwargs` / `kwargs_to_hf_config` (classmethods) and
    `hf_weight_map()`.

    Example:

    >>> from bertcls import ElectraBackbone
    >>> backbone = ElectraBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                            hidden_size=8, intermediate_size=16)
    >>> isinstance(backbone, EncoderBackbone), backbone.has_pooler
    (True, False)
    >>> sorted(backbone.hf_weight_map())[:2]
    ['embeddings.LayerNorm.bias', 'embeddings.LayerNorm.weight']
    """

    model_type = None
    hf_prefix = None
    hf_architecture = None
    skipped_prefixes = ()
    pooler_names = ()
    shares_layers = False
    classifier_head = {"pooling": "pooled"}
    hf_classifier_names = {"output": "classifier"}

    def _build_stack(self, *, vocabulary_size, num_layers, num_heads, hidden_size,
                     intermediate_size, hidden_act, dropout, attention_dropout,
                     max_sequence_length, type_vocab_size, layer_norm_epsilon,
                     initializer_range, dtype, embedding_size=None, embedding_projection=False,
                     padding_idx=None,
                     share_layers=False, pooler=True, **kwargs):
        """Create the layers and the functional graph (see the module docstring)."""
        activation = get_activation(hidden_act)
        validate_backbone_args({}, rates=dict(dropout=dropout, attention_dropout=attention_dropout),
                               epsilon=layer_norm_epsilon, initializer_range=initializer_range)
        check_sizes(vocabulary_size=vocabulary_size, num_layers=num_layers,
                    num_heads=num_heads, hidden_size=hidden_size,
                    intermediate_size=intermediate_size,
                    max_sequence_length=max_sequence_length)
        if embedding_size is not None:
            check_sizes(embedding_size=embedding_size)
        if type_vocab_size != 0:
            check_sizes(type_vocab_size=type_vocab_size)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size must be a multiple of num_heads; received "
                f"hidden_size={hidden_size}, num_heads={num_heads}.")
        if padding_idx is not None and not 0 <= padding_idx < max_sequence_length - 1:
            raise ValueError(
                f"pad_token_id {padding_idx} leaves no positions below max_sequence_length "
                f"{max_sequence_length}.")
        width = embedding_size or hidden_size

        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        # === Layers ===
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, width, embeddings_initializer=initializer(),
            dtype=dtype, name="token_embedding")
        if padding_idx is None:
            self.position_embedding = PositionEmbedding(
                sequence_length=max_sequence_length, initializer=initializer(),
                dtype=dtype, name="position_embedding")
        else:
            self.position_embedding = keras.layers.Embedding(
                max_sequence_length, width, embeddings_initializer=initializer(),
                dtype=dtype, name="position_embedding")
        if type_vocab_size:
            self.token_type_embedding = keras.layers.Embedding(
                type_vocab_size, width, embeddings_initializer=initializer(),
                dtype=dtype, name="token_type_embedding")
        self.embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm")
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout")
        if embedding_projection:
            self.embeddings_projection = keras.layers.Dense(
                hidden_size, kernel_initializer=initializer(), dtype=dtype,
                name="embeddings_projection")
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
            for i in range(1 if share_layers else num_layers)
        ]
        if pooler:
            self.pooler_dense = keras.layers.Dense(
                hidden_size, activation="tanh", kernel_initializer=initializer(),
                dtype=dtype, name="pooler_dense")

        # === Functional Model ===
        inputs = {"input_ids": keras.Input(shape=(None,), dtype="int32", name="input_ids"),
                  "attention_mask": keras.Input(shape=(None,), dtype="int32",
                                                name="attention_mask")}
        if type_vocab_size:
            inputs["token_type_ids"] = keras.Input(shape=(None,), dtype="int32",
                                                   name="token_type_ids")
        tokens = self.token_embedding(inputs["input_ids"])
        if padding_idx is None:
            positions = self.position_embedding(tokens)
        else:
            # Hugging Face's create_position_ids_from_input_ids: real tokens count up
            # from padding_idx + 1, padding tokens get padding_idx.
            real = ops.cast(ops.not_equal(inputs["input_ids"], padding_idx), "int32")
            positions = self.position_embedding(ops.cumsum(real, axis=1) * real + padding_idx)
        parts = [tokens, positions]
        if type_vocab_size:
            parts.append(self.token_type_embedding(inputs["token_type_ids"]))
        x = self.embeddings_add(parts)
        x = self.embeddings_layer_norm(x)
        x = self.embeddings_dropout(x)
        if embedding_projection:
            x = self.embeddings_projection(x)
        for i in range(num_layers):
            layer = self.transformer_layers[0 if share_layers else i]
            x = layer(x, padding_mask=inputs["attention_mask"])
        outputs = {"sequence_output": x}
        if pooler:
            outputs["pooled_output"] = self.pooler_dense(x[:, 0, :])
        # super() from here: Keras swaps `Functional` into this class's bases on first use.
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # Functional models keep no dtype policy of their own: remember the argument.
        self._dtype_argument = dtype
        self._input_names = tuple(inputs)
        self._max_input_length = max_sequence_length - (
            0 if padding_idx is None else padding_idx + 1)

    # === Config ===

    def _set_config(self, arguments):
        """Store the constructor `arguments` (a dict, `dtype` excluded) as attributes."""
        self._config_names = tuple(arguments)
        for name, value in arguments.items():
            setattr(self, name, value)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({name: getattr(self, name) for name in self._config_names})
        config["dtype"] = (keras.dtype_policies.serialize(self._dtype_argument)
                           if isinstance(self._dtype_argument, keras.DTypePolicy)
                           else self._dtype_argument)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    @property
    def max_input_length(self):
        """The most tokens per input: `max_sequence_length`, less RoBERTa's position offset."""
        return self._max_input_length

    @property
    def has_pooler(self):
        """Whether the backbone returns `pooled_output`."""
        return hasattr(self, "pooler_dense")

    def call(self, inputs, training=None, mask=None):
        # Keep only the id tensors this family reads (the encoder may add `offsets`, and
        # DistilBERT reads no `token_type_ids`): Functional would otherwise match extra
        # dict entries by position.
        if isinstance(inputs, dict):
            inputs = {k: inputs[k] for k in INPUT_NAMES
                      if k in inputs and k in self._input_names}
            length = getattr(inputs.get("input_ids"), "shape", (None,))[-1]
            if length is not None and length > self._max_input_length:
                offset = ("" if self._max_input_length == self.max_sequence_length
                          else " after the padding offset")
                raise ValueError(
                    f"Sequence length {length} exceeds max_sequence_length "
                    f"{self._max_input_length} (the number of position embeddings"
                    f"{offset}); truncate inputs (FeatureEncoder max_seq_len).")
        return super().call(inputs, training=training, mask=mask)

    # === Hugging Face config.json ===

    @classmethod
    def from_hf_config(cls, config, **overrides):
        """Build a randomly initialised backbone from a Hugging Face config.

        Args:
            config: a `config.json` dict, or the path of a `config.json` file
                or of the directory holding it.
            **overrides: constructor arguments that replace the mapped ones
                (e.g. `dtype="mixed_bfloat16"`, `dropout=0.0`).

        Returns:
            A backbone of this class (weights not loaded; see `from_preset`).

        Raises:
            ValueError: the config is for another family or describes something
                this backbone does not implement.
        """
        kwargs = cls.hf_config_to_kwargs(read_hf_config(config))
        kwargs.update(overrides)
        return cls(**kwargs)

    def to_hf_config(self):
        """The Hugging Face `config.json` dict describing this backbone."""
        return self.kwargs_to_hf_config(self.get_config())

    # === Checkpoints ===

    @classmethod
    def from_preset(cls, preset, strict=False, needs_pooler=True, **overrides):
        """Load a pretrained backbone of this family from a Hugging Face directory or Hub id.

        `bertcls.backbone_from_preset` picks the family from `config.json`'s `model_type`.
        The config and the checkpoint are checked before the backbone is allocated
        (docs/security.md).

        Args:
            preset: a local Hugging Face directory (`config.json` plus
                `model.safetensors`, `pytorch_model.bin` or their sharded index)
                or a Hub id (fetched with `bertcls.resolve_preset`).
            strict: refuse a checkpoint whose tensors hold NaN or infinity, or that
                has no pooler weights while `needs_pooler` (by default both load with a
                warning naming the tensors).
            needs_pooler: the caller reads `pooled_output`. A task whose head never reads
                it passes False: a checkpoint without a pooler (a RoBERTa masked-LM
                checkpoint, a `*ForQuestionAnswering` one) then loads even with `strict`.
            **overrides: constructor arguments replacing the checkpoint's
                (e.g. `dtype="mixed_bfloat16"`, `dropout=0.2`).

        Raises:
            bertcls.PresetError: the preset cannot be found.
            bertcls.CheckpointError: a file cannot be read (named), the config is
                invalid, unsupported or of another family, or a weight is missing,
                unexpected, of the wrong shape or not floating point (all listed).
            bertcls.UnsafeCheckpointError: a `pytorch_model.bin` asks for anything
                but tensors.
            ValueError: an override is invalid.
        """
        return load_backbone(cls, preset, strict=strict, needs_pooler=needs_pooler,
                             **overrides)

    @classmethod
    def hf_shapes(cls, kwargs):
        """Hugging Face weight name -> shape for these constructor arguments, computed
        without building (None: this family checks shapes after building)."""
        return None

    def save_pretrained(self, directory, encoder=None):
        """Write this backbone as a Hugging Face checkpoint of its family.

        `transformers.AutoModel.from_pretrained(directory)` loads it to the same outputs.

        Args:
            directory: output directory (created if missing).
            encoder: optional tokenizer files to write alongside: a
                `bertcls.FeatureEncoder`, a vocabulary list, or the path of a
                `vocab.txt`. Writes `vocab.txt` and `tokenizer_config.json`.

        Returns:
            The directory path.
        """
        return save_backbone(self, directory, encoder=encoder)

    def hf_weight_map(self):
        """Hugging Face base-model weight name -> `Weight`, for every variable."""
        raise NotImplementedError

    def _embedding_weights(self, norm="embeddings.LayerNorm"):
        weights = {
            "embeddings.word_embeddings.weight": Weight(self.token_embedding.embeddings),
            "embeddings.position_embeddings.weight": Weight(
                self.position_embedding.position_embeddings
                if isinstance(self.position_embedding, PositionEmbedding)
                else self.position_embedding.embeddings),
        }
        if hasattr(self, "token_type_embedding"):
            weights["embeddings.token_type_embeddings.weight"] = Weight(
                self.token_type_embedding.embeddings)
        weights.update(norm_weights(self.embeddings_layer_norm, norm))
        return weights
