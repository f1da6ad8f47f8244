"""DistilBERT: word + position embeddings (no token types), BERT's post-norm layers under
their own weight names (`q_lin`, `sa_layer_norm`, `ffn.lin1`, ...), no pooler, and a
sequence-classification head of `pre_classifier` -> ReLU -> `classifier` on the first
token. Sinusoidal position embeddings (`sinusoidal_pos_embds`) are supported: fixed
(not trained) and, built from scratch, filled with transformers' table.
monologg/distilkobert is this.
"""

import keras
import numpy as np

from bertcls.models.checkpoints import check_hf_config, stack_hf_shapes
from bertcls.models.encoder import EncoderBackbone, layer_weights

DISTILBERT_LAYER_NAMES = {
    "query": "attention.q_lin", "key": "attention.k_lin", "value": "attention.v_lin",
    "attention_output": "attention.out_lin", "attention_norm": "sa_layer_norm",
    "intermediate": "ffn.lin1", "output": "ffn.lin2", "output_norm": "output_layer_norm",
}
# Hugging Face DistilBertConfig key -> constructor argument.
DISTILBERT_CONFIG_KEYS = {
    "vocab_size": "vocabulary_size", "n_layers": "num_layers", "n_heads": "num_heads",
    "dim": "hidden_size", "hidden_dim": "intermediate_size", "activation": "hidden_act",
    "dropout": "dropout", "attention_dropout": "attention_dropout",
    "max_position_embeddings": "max_sequence_length",
    "initializer_range": "initializer_range",
    "sinusoidal_pos_embds": "sinusoidal_positions",
}
REQUIRED_KEYS = ("vocab_size", "dim", "n_layers", "n_heads", "hidden_dim")


def sinusoidal_table(positions, dim):
    """transformers' `create_sinusoidal_embeddings`: sin on even, cos on odd columns."""
    angles = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                       for pos in range(positions)])
    table = np.zeros((positions, dim), np.float32)
    table[:, 0::2] = np.sin(angles[:, 0::2])
    table[:, 1::2] = np.cos(angles[:, 1::2])
    return table


@keras.saving.register_keras_serializable(package="bertcls")
class DistilBertBackbone(EncoderBackbone):
    """A DistilBERT encoder with Hugging Face `DistilBertModel` semantics.

    Reads `input_ids` and `attention_mask` only (`token_type_ids` in the input dict is
    ignored: DistilBERT has no token types) and returns only `sequence_output`.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_size, intermediate_size,
            hidden_act, dropout, attention_dropout, max_sequence_length,
            initializer_range, dtype: as in `BertBackbone` (Hugging Face's `vocab_size`,
            `n_layers`, `n_heads`, `dim`, `hidden_dim`, `activation`, ...).
        layer_norm_epsilon: LayerNorm epsilon (DistilBERT's is fixed at 1e-12).
        sinusoidal_positions: fixed sinusoidal position embeddings
            (`sinusoidal_pos_embds`).
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> backbone = DistilBertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                               hidden_size=8, intermediate_size=16)
    >>> ids = np.array([[2, 5, 6, 3, 0]])
    >>> outputs = backbone({"input_ids": ids, "attention_mask": (ids > 0).astype("int32")})
    >>> sorted(outputs), tuple(outputs["sequence_output"].shape)
    (['sequence_output'], (1, 5, 8))
    """

    model_type = "distilbert"
    hf_prefix = "distilbert"
    hf_architecture = "DistilBert"
    skipped_prefixes = ("vocab_transform.", "vocab_layer_norm.", "vocab_projector.")
    pooler_names = ()
    classifier_head = {"pooling": "cls", "hidden_activation": "relu"}
    hf_classifier_names = {"hidden": "pre_classifier", "output": "classifier"}

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_size,
                 intermediate_size, hidden_act="gelu", dropout=0.1, attention_dropout=0.1,
                 max_sequence_length=512, layer_norm_epsilon=1e-12, initializer_range=0.02,
                 sinusoidal_positions=False, dtype=None, **kwargs):
        self._build_stack(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=0,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            pooler=False, dtype=dtype, **kwargs)
        if sinusoidal_positions:
            self.position_embedding.position_embeddings.assign(
                sinusoidal_table(max_sequence_length, hidden_size))
            self.position_embedding.trainable = False
        self._set_config(dict(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            sinusoidal_positions=bool(sinusoidal_positions)))

    @classmethod
    def hf_config_to_kwargs(cls, config):
        """`config.json` dict -> constructor arguments (DistilBERT's own keys)."""
        check_hf_config(config, REQUIRED_KEYS, cls.model_type, activation_key="activation")
        return {arg: config[key] for key, arg in DISTILBERT_CONFIG_KEYS.items()
                if key in config}

    @classmethod
    def kwargs_to_hf_config(cls, kwargs):
        config = {"architectures": ["DistilBertModel"], "model_type": cls.model_type,
                  "pad_token_id": 0}
        for key, arg in DISTILBERT_CONFIG_KEYS.items():
            config[key] = kwargs[arg]
        return config

    @classmethod
    def hf_shapes(cls, kwargs):
        """Weight name -> shape for these arguments, without building: no token types,
        DistilBERT's layer names, no pooler."""
        return stack_hf_shapes(
            kwargs, [f"transformer.layer.{i}." for i in range(kwargs["num_layers"])],
            DISTILBERT_LAYER_NAMES, token_types=False)

    def hf_weight_map(self):
        """Hugging Face `DistilBertModel` weight name -> `Weight`."""
        weights = self._embedding_weights()
        for i, layer in enumerate(self.transformer_layers):
            weights.update(layer_weights(layer, f"transformer.layer.{i}.",
                                         DISTILBERT_LAYER_NAMES))
        return weights
