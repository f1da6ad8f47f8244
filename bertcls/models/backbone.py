"""`BertBackbone`: a Keras 3 BERT encoder that loads Hugging Face checkpoints exactly.

BERT is the shared encoder stack (`bertcls.models.encoder`) as it is: word + absolute
position + token type embeddings, post-norm layers with the activation BERT was trained
with (exact erf GELU for Hugging Face's `"gelu"`), and the pooler.
"""

import keras

from bertcls.models.checkpoints import (POOLER_NAMES, SKIPPED_PREFIXES, bert_hf_shapes,
                                        hf_config_to_kwargs, kwargs_to_hf_config)
from bertcls.models.encoder import (BERT_LAYER_NAMES, BertTransformerLayer,  # noqa: F401
                                    EncoderBackbone, dense_weights, layer_weights,
                                    read_hf_config)


@keras.saving.register_keras_serializable(package="bertcls")
class BertBackbone(EncoderBackbone):
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

    model_type = "bert"
    hf_prefix = "bert"
    hf_architecture = "Bert"
    skipped_prefixes = SKIPPED_PREFIXES
    pooler_names = POOLER_NAMES

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
        self._build_stack(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            dtype=dtype, **kwargs)

        # === Config ===
        self._set_config(dict(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range))

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
        return super().from_hf_config(read_hf_config(config), **overrides)

    @classmethod
    def hf_config_to_kwargs(cls, config):
        """`config.json` dict -> constructor arguments (see `checkpoints.hf_config_to_kwargs`)."""
        return hf_config_to_kwargs(config)

    @staticmethod
    def kwargs_to_hf_config(kwargs):
        """`get_config()` -> the Hugging Face `config.json` dict."""
        return kwargs_to_hf_config(kwargs)

    @classmethod
    def hf_shapes(cls, kwargs):
        """`BertModel` weight name -> shape for these arguments (`bert_hf_shapes`)."""
        return bert_hf_shapes(kwargs)

    def hf_weight_map(self):
        """Hugging Face `BertModel` weight name -> `Weight` for every variable."""
        weights = self._embedding_weights()
        weights.update(dense_weights(self.pooler_dense, "pooler.dense"))
        for i, layer in enumerate(self.transformer_layers):
            weights.update(layer_weights(layer, f"encoder.layer.{i}.", BERT_LAYER_NAMES))
        return weights

    # === Checkpoints ===

    @classmethod
    def from_preset(cls, preset, strict=False, needs_pooler=True, **overrides):
        """Load a pretrained backbone from a Hugging Face or keras-hub preset.

        The config is type- and range-checked and the checkpoint's tensors are
        checked against the shapes it implies (names, shapes, float dtypes,
        enough bytes in the files) before anything is allocated; see
        docs/security.md.

        Args:
            preset: a local Hugging Face directory (`config.json` plus
                `model.safetensors`, `pytorch_model.bin` or their sharded
                index), a Hub id such as `"klue/bert-base"` (fetched with
                `bertcls.resolve_preset`), or a local keras-hub BERT preset
                directory (`config.json` naming `keras_hub>BertBackbone` plus
                `model.weights.h5`).
            strict: refuse a checkpoint whose tensors hold NaN or infinity, or
                that has no pooler weights while `needs_pooler` (by default both
                load with a warning naming the tensors).
            needs_pooler: the caller reads `pooled_output` (False: a missing pooler
                is not an error under `strict`; see `EncoderBackbone.from_preset`).
            **overrides: constructor arguments replacing the checkpoint's
                (e.g. `dtype="mixed_bfloat16"`, `dropout=0.2`).

        Returns:
            A `BertBackbone` holding the checkpoint's weights.

        Raises:
            bertcls.PresetError: the preset cannot be found.
            bertcls.CheckpointError: a file cannot be read (named), the config
                is invalid or unsupported, or a weight is missing, unexpected,
                of the wrong shape or not floating point (all listed).
            bertcls.UnsafeCheckpointError: a `pytorch_model.bin` asks for
                anything but tensors.
            ValueError: an override is invalid.

        Example:

        >>> import tempfile
        >>> directory = tempfile.mkdtemp()
        >>> tiny = BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
        ...                     hidden_size=8, intermediate_size=16)
        >>> _ = tiny.save_pretrained(directory)
        >>> BertBackbone.from_preset(directory).num_layers
        1
        """
        return super().from_preset(preset, strict=strict, needs_pooler=needs_pooler,
                                   **overrides)

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
        return super().save_pretrained(directory, encoder=encoder)
