"""RoBERTa and XLM-RoBERTa: BERT's stack and weight names, with positions counted after the
padding id (`padding_idx + 1, padding_idx + 2, ...`; padding tokens get `padding_idx`),
usually one token type, and a sequence-classification head of dense -> tanh -> dense on
the first token (no pooler). klue/roberta-* and xlm-roberta-base are these.
"""

import keras

from bertcls.models.checkpoints import (POOLER_NAMES, bert_hf_shapes, hf_config_to_kwargs,
                                        kwargs_to_hf_config)
from bertcls.models.encoder import (BERT_LAYER_NAMES, EncoderBackbone, dense_weights,
                                    layer_weights)


@keras.saving.register_keras_serializable(package="bertcls")
class RobertaBackbone(EncoderBackbone):
    """A RoBERTa encoder with Hugging Face `RobertaModel` semantics.

    As `BertBackbone`, except that position ids are computed from `input_ids` as
    transformers' `create_position_ids_from_input_ids` does: real tokens count up from
    `pad_token_id + 1`, padding tokens (`input_ids == pad_token_id`) get `pad_token_id`.
    So `max_sequence_length` (`max_position_embeddings`, 514 for base models) allows
    inputs of `max_sequence_length - pad_token_id - 1` tokens.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_size, intermediate_size,
            hidden_act, dropout, attention_dropout, layer_norm_epsilon,
            initializer_range, dtype: as in `BertBackbone`.
        max_sequence_length: number of position embeddings (`max_position_embeddings`).
        type_vocab_size: token types (1 in RoBERTa checkpoints: every id must be 0).
        pad_token_id: the padding id, which is also the position offset.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> backbone = RobertaBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                            hidden_size=8, intermediate_size=16,
    ...                            max_sequence_length=10)
    >>> ids = np.array([[0, 5, 6, 2, 1, 1]])  # <s> . . </s> <pad> <pad>
    >>> outputs = backbone({"input_ids": ids, "attention_mask": (ids != 1).astype("int32"),
    ...                     "token_type_ids": np.zeros_like(ids)})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 6, 8), (1, 8))
    """

    model_type = "roberta"
    hf_prefix = "roberta"
    hf_architecture = "Roberta"
    skipped_prefixes = ("lm_head.",)
    pooler_names = POOLER_NAMES
    classifier_head = {"pooling": "cls", "hidden_activation": "tanh"}
    hf_classifier_names = {"hidden": "classifier.dense", "output": "classifier.out_proj"}

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_size,
                 intermediate_size, hidden_act="gelu", dropout=0.1, attention_dropout=0.1,
                 max_sequence_length=514, type_vocab_size=1, layer_norm_epsilon=1e-5,
                 initializer_range=0.02, pad_token_id=1, dtype=None, **kwargs):
        self._build_stack(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            padding_idx=pad_token_id, dtype=dtype, **kwargs)
        self._set_config(dict(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_size=hidden_size, intermediate_size=intermediate_size,
            hidden_act=hidden_act, dropout=dropout, attention_dropout=attention_dropout,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
            pad_token_id=pad_token_id))

    @classmethod
    def hf_config_to_kwargs(cls, config):
        """`config.json` dict -> constructor arguments (BERT's keys plus `pad_token_id`)."""
        kwargs = hf_config_to_kwargs(config, model_type=cls.model_type)
        pad = config.get("pad_token_id", 1)
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ValueError(f"pad_token_id must be a non-negative int, received {pad!r}.")
        kwargs["pad_token_id"] = pad
        return kwargs

    @classmethod
    def kwargs_to_hf_config(cls, kwargs):
        return kwargs_to_hf_config(kwargs, model_type=cls.model_type,
                                   architecture=f"{cls.hf_architecture}Model",
                                   pad_token_id=kwargs["pad_token_id"])

    @classmethod
    def hf_shapes(cls, kwargs):
        """Weight name -> shape for these arguments: BERT's (`bert_hf_shapes`)."""
        return bert_hf_shapes(kwargs)

    def hf_weight_map(self):
        """Hugging Face `RobertaModel` weight name -> `Weight` (BERT's names)."""
        weights = self._embedding_weights()
        weights.update(dense_weights(self.pooler_dense, "pooler.dense"))
        for i, layer in enumerate(self.transformer_layers):
            weights.update(layer_weights(layer, f"encoder.layer.{i}.", BERT_LAYER_NAMES))
        return weights


@keras.saving.register_keras_serializable(package="bertcls")
class XLMRobertaBackbone(RobertaBackbone):
    """XLM-RoBERTa: `RobertaBackbone` under `model_type` `"xlm-roberta"` (the network and the
    weight names are RoBERTa's; only the tokenizer differs, SentencePiece).

    Example:

    >>> backbone = XLMRobertaBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                               hidden_size=8, intermediate_size=16)
    >>> backbone.to_hf_config()["model_type"]
    'xlm-roberta'
    """

    model_type = "xlm-roberta"
    hf_architecture = "XLMRoberta"
