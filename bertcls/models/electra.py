"""ELECTRA (the discriminator): BERT's embeddings and layers, the embeddings at
`embedding_size` projected to `hidden_size` when the two differ (`embeddings_project`), no
pooler, and a sequence-classification head of dense -> GELU -> dense on the first token.
monologg/koelectra-* and beomi/KcELECTRA-* are these.
"""

import keras

from bertcls.models.checkpoints import hf_config_to_kwargs, kwargs_to_hf_config, stack_hf_shapes
from bertcls.models.encoder import (BERT_LAYER_NAMES, EncoderBackbone, dense_weights,
                                    layer_weights)


@keras.saving.register_keras_serializable(package="bertcls")
class ElectraBackbone(EncoderBackbone):
    """An ELECTRA discriminator with Hugging Face `ElectraModel` semantics.

    Returns only `sequence_output` (ELECTRA has no pooler); the classifier's default head
    reads the first token, as `ElectraForSequenceClassification` does.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_size, intermediate_size,
            hidden_act, dropout, attention_dropout, max_sequence_length,
            type_vocab_size, layer_norm_epsilon, initializer_range, dtype: as in
            `BertBackbone`.
        embedding_size: width of the embeddings; None or `hidden_size` means no
            projection, anything else adds the dense `embeddings_project`.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> backbone = ElectraBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                            hidden_size=8, intermediate_size=16, embedding_size=4)
    >>> ids = np.array([[2, 5, 6, 3, 0]])
    >>> outputs = backbone({"input_ids": ids, "attention_mask": (ids > 0).astype("int32"),
    ...                     "token_type_ids": np.zeros_like(ids)})
    >>> sorted(outputs), tuple(outputs["sequence_output"].shape)
    (['sequence_output'], (1, 5, 8))
    """

    model_type = "electra"
    hf_prefix = "electra"
    hf_architecture = "Electra"
    skipped_prefixes = ("discriminator_predictions.", "generator_predictions.",
                        "generator_lm_head.")
    pooler_names = ()
    classifier_head = {"pooling": "cls", "hidden_activation": "gelu"}
    hf_classifier_names = {"hidden": "classifier.dense", "output": "classifier.out_proj"}

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_size,
                 intermediate_size, hidden_act="gelu", dropout=0.1, attention_dropout=0.1,
                 max_sequence_length=512, type_vocab_size=2, layer_norm_epsilon=1e-12,
                 initializer_range=0.02, embedding_size=None, dtype=None, **kwargs):
        project = embedding_size is not None and embedding_size != hidden_size
        self._build_stack(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            embedding_size=embedding_size if project else None,
            embedding_projection=project, pooler=False, dtype=dtype, **kwargs)
        self._set_config(dict(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            embedding_size=embedding_size))

    @classmethod
    def hf_config_to_kwargs(cls, config):
        """`config.json` dict -> constructor arguments (BERT's keys plus `embedding_size`)."""
        return hf_config_to_kwargs(config, model_type=cls.model_type, embedding_size=True)

    @classmethod
    def kwargs_to_hf_config(cls, kwargs):
        config = kwargs_to_hf_config(kwargs, model_type=cls.model_type,
                                     architecture="ElectraModel")
        config["embedding_size"] = kwargs["embedding_size"] or kwargs["hidden_size"]
        return config

    @classmethod
    def hf_shapes(cls, kwargs):
        """Weight name -> shape for these arguments, without building: BERT's stack without
        a pooler, with `embeddings_project` when `embedding_size != hidden_size`."""
        width = kwargs.get("embedding_size") or kwargs["hidden_size"]
        project = width != kwargs["hidden_size"]
        return stack_hf_shapes(
            kwargs, [f"encoder.layer.{i}." for i in range(kwargs["num_layers"])],
            BERT_LAYER_NAMES, embedding_size=width,
            projection="embeddings_project" if project else None)

    def hf_weight_map(self):
        """Hugging Face `ElectraModel` weight name -> `Weight`."""
        weights = self._embedding_weights()
        if hasattr(self, "embeddings_projection"):
            weights.update(dense_weights(self.embeddings_projection, "embeddings_project"))
        for i, layer in enumerate(self.transformer_layers):
            weights.update(layer_weights(layer, f"encoder.layer.{i}.", BERT_LAYER_NAMES))
        return weights
