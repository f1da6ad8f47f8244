"""ALBERT: factorised embeddings (`embedding_size`, mapped to `hidden_size` by
`embedding_hidden_mapping_in`) and one transformer layer's weights applied at every depth.
Only the layout every released ALBERT uses is implemented: one hidden group
(`num_hidden_groups=1`) of one layer (`inner_group_num=1`). KoreALBERT is this.
"""

import keras

from bertcls.models.checkpoints import (HF_CONFIG_KEYS, REQUIRED_HF_KEYS, check_hf_config,
                                        stack_hf_shapes)
from bertcls.models.encoder import EncoderBackbone, dense_weights, layer_weights

ALBERT_LAYER_NAMES = {
    "query": "attention.query", "key": "attention.key", "value": "attention.value",
    "attention_output": "attention.dense", "attention_norm": "attention.LayerNorm",
    "intermediate": "ffn", "output": "ffn_output", "output_norm": "full_layer_layer_norm",
}
LAYER_PREFIX = "encoder.albert_layer_groups.0.albert_layers.0."


@keras.saving.register_keras_serializable(package="bertcls")
class AlbertBackbone(EncoderBackbone):
    """An ALBERT encoder with Hugging Face `AlbertModel` semantics.

    Embeddings at `embedding_size` (word + position + token type, LayerNorm, dropout),
    a dense map to `hidden_size`, then one shared post-norm layer applied `num_layers`
    times, and the pooler (dense + tanh on the first token).

    Args:
        vocabulary_size, num_layers, num_heads, hidden_size, intermediate_size,
            dropout, attention_dropout, max_sequence_length, type_vocab_size,
            layer_norm_epsilon, initializer_range, dtype: as in `BertBackbone`
            (`num_layers` counts applications of the shared layer).
        embedding_size: width of the factorised embeddings (128 in ALBERT).
        hidden_act: Hugging Face activation name (ALBERT's default `"gelu_new"`).
        **kwargs: passed to `keras.Model`.

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=10, num_layers=3, num_heads=2,
    ...                           hidden_size=8, intermediate_size=16, embedding_size=4)
    >>> len(backbone.transformer_layers), backbone.num_layers
    (1, 3)
    """

    model_type = "albert"
    hf_prefix = "albert"
    hf_architecture = "Albert"
    skipped_prefixes = ("predictions.", "sop_classifier.")
    pooler_names = ("pooler.weight", "pooler.bias")
    shares_layers = True

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_size,
                 intermediate_size, embedding_size=128, hidden_act="gelu_new", dropout=0.0,
                 attention_dropout=0.0, max_sequence_length=512, type_vocab_size=2,
                 layer_norm_epsilon=1e-12, initializer_range=0.02, dtype=None, **kwargs):
        self._build_stack(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            embedding_size=embedding_size, embedding_projection=True, share_layers=True,
            dtype=dtype, **kwargs)
        self._set_config(dict(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            embedding_size=embedding_size, hidden_act=hidden_act, dropout=dropout,
            attention_dropout=attention_dropout, max_sequence_length=max_sequence_length,
            type_vocab_size=type_vocab_size, layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range))

    @classmethod
    def hf_config_to_kwargs(cls, config):
        """`config.json` dict -> constructor arguments.

        Raises:
            ValueError: as for BERT, and for `num_hidden_groups` or `inner_group_num`
                other than 1 (layer groups are not implemented).
        """
        check_hf_config(config, REQUIRED_HF_KEYS + ("embedding_size",), cls.model_type,
                        default_activation="gelu_new")
        for key in ("num_hidden_groups", "inner_group_num"):
            if config.get(key, 1) != 1:
                raise ValueError(
                    f"Unsupported ALBERT {key}={config[key]!r}: only one shared layer "
                    f"(num_hidden_groups=1, inner_group_num=1, as in every released ALBERT) "
                    f"is implemented.")
        kwargs = {arg: config[key] for key, arg in HF_CONFIG_KEYS.items() if key in config}
        kwargs["embedding_size"] = config["embedding_size"]
        return kwargs

    @classmethod
    def kwargs_to_hf_config(cls, kwargs):
        config = {"architectures": ["AlbertModel"], "model_type": cls.model_type,
                  "position_embedding_type": "absolute", "pad_token_id": 0,
                  "num_hidden_groups": 1, "inner_group_num": 1,
                  "embedding_size": kwargs["embedding_size"]}
        for key, arg in HF_CONFIG_KEYS.items():
            config[key] = kwargs[arg]
        return config

    @classmethod
    def hf_shapes(cls, kwargs):
        """Weight name -> shape for these arguments, without building: factorised
        embeddings, one shared layer, the pooler."""
        return stack_hf_shapes(kwargs, [LAYER_PREFIX], ALBERT_LAYER_NAMES,
                               embedding_size=kwargs.get("embedding_size", 128),
                               projection="encoder.embedding_hidden_mapping_in",
                               pooler="pooler")

    def hf_weight_map(self):
        """Hugging Face `AlbertModel` weight name -> `Weight`."""
        weights = self._embedding_weights()
        weights.update(dense_weights(self.embeddings_projection,
                                     "encoder.embedding_hidden_mapping_in"))
        weights.update(layer_weights(self.transformer_layers[0], LAYER_PREFIX,
                                     ALBERT_LAYER_NAMES))
        weights.update(dense_weights(self.pooler_dense, "pooler"))
        return weights
