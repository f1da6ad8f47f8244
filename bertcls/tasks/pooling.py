"""`SentencePooling`: token vectors -> one sentence vector, as sentence-transformers pools."""

import keras
from keras import ops

# sentence-transformers' Pooling modes, in the order its legacy `pooling_mode_*_tokens` config
# keys concatenate them.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


def pooling_modes(pooling):
    """`pooling` (a mode name or a list of them) as a tuple of valid mode names."""
    modes = (pooling,) if isinstance(pooling, str) else tuple(pooling or ())
    if not modes or any(mode not in POOLING_MODES for mode in modes):
        raise ValueError(
            f"`pooling` must be one of {POOLING_MODES} or a list of them, received {pooling!r}.")
    return modes


@keras.saving.register_keras_serializable(package="bertcls")
class SentencePooling(keras.layers.Layer):
    """Pool a backbone's token vectors into one vector per text, with sentence-transformers'
    definitions, optionally L2-normalised.

    Modes (several are concatenated in the order given, as sentence-transformers does):

    - `"mean"`: the mean over tokens with `attention_mask` 1 (the count clamped at 1e-9).
    - `"cls"`: the first token with `attention_mask` 1 (`[CLS]` for right padding).
    - `"max"`: the element-wise maximum over tokens with `attention_mask` 1; padding is set to
      `-inf` first, so it never wins, even where every real value is negative.
    - `"mean_sqrt_len_tokens"`: the masked sum divided by the square root of the token count.
    - `"weightedmean"`: the mean weighted by position (1, 2, ... from the first real token).
    - `"lasttoken"`: the last token with `attention_mask` 1.

    `[CLS]` and `[SEP]` count as tokens, as in sentence-transformers. Pooling runs in float32
    (also under mixed precision); `normalize=True` divides by the L2 norm (clamped at 1e-12,
    `torch.nn.functional.normalize`), sentence-transformers' `Normalize` module.

    Args:
        pooling: a mode name or a list of them (see above).
        normalize: L2-normalise the pooled vector.

    Call arguments:
        inputs: dict with `sequence_output` `(batch, length, hidden)` and `attention_mask`
            `(batch, length)`; other keys are ignored.

    Returns:
        float32 `(batch, hidden * len(modes))`.

    Example:

    >>> import numpy as np
    >>> tokens = np.array([[[1.0, -4.0], [3.0, -2.0], [9.0, 9.0]]], "float32")
    >>> mask = np.array([[1, 1, 0]])
    >>> SentencePooling("mean")({"sequence_output": tokens, "attention_mask": mask}).numpy()
    array([[ 2., -3.]], dtype=float32)
    >>> SentencePooling("max")({"sequence_output": tokens, "attention_mask": mask}).numpy()
    array([[ 3., -2.]], dtype=float32)
    >>> pooled = SentencePooling(["cls", "mean"], normalize=True)(
    ...     {"sequence_output": tokens, "attention_mask": mask})
    >>> tuple(pooled.shape), float(np.round(np.linalg.norm(pooled), 5))
    ((1, 4), 1.0)
    """

    def __init__(self, pooling="mean", normalize=False, **kwargs):
        # Pool and normalise in float32 even when the backbone runs in float16/bfloat16.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        # === Config ===
        self.modes = pooling_modes(pooling)
        self.pooling = self.modes[0] if len(self.modes) == 1 else list(self.modes)
        if not isinstance(normalize, bool):
            raise ValueError(f"`normalize` must be True or False, received {normalize!r}.")
        self.normalize = normalize

    def call(self, inputs):
        if "attention_mask" not in inputs or "sequence_output" not in inputs:
            raise ValueError(
                "SentencePooling needs `sequence_output` and `attention_mask` in its input "
                f"dict, received keys {sorted(inputs)}.")
        tokens = ops.cast(inputs["sequence_output"], "float32")
        mask = ops.cast(inputs["attention_mask"], "float32")
        vectors = [self._pool(mode, tokens, mask) for mode in self.modes]
        x = vectors[0] if len(vectors) == 1 else ops.concatenate(vectors, axis=-1)
        if self.normalize:
            norm = ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))
            x = x / ops.maximum(norm, 1e-12)
        return x

    @staticmethod
    def _pool(mode, tokens, mask):
        length = ops.shape(tokens)[1]
        weights = ops.expand_dims(mask, -1)
        if mode == "cls":  # the first attended position: a one-hot row picks it
            first = ops.argmax(mask, axis=1)
            return ops.einsum("bl,blh->bh", ops.one_hot(first, length, dtype="float32"), tokens)
        if mode == "lasttoken":
            last = length - 1 - ops.argmax(ops.flip(mask, axis=1), axis=1)
            # No attended token at all: sentence-transformers takes the last position.
            last = ops.where(ops.max(mask, axis=1) > 0, last, length - 1)
            pick = ops.one_hot(last, length, dtype="float32")
            return ops.einsum("bl,blh->bh", pick, tokens * weights)
        if mode == "max":
            return ops.max(ops.where(weights > 0, tokens, float("-inf")), axis=1)
        if mode == "weightedmean":
            start = ops.cast(ops.argmax(mask, axis=1), "float32")
            positions = ops.cast(ops.arange(1, length + 1), "float32")
            weights = weights * ops.expand_dims(positions[None, :] - start[:, None], -1)
        total = ops.sum(tokens * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1e-9)
        return total / (ops.sqrt(count) if mode == "mean_sqrt_len_tokens" else count)

    def compute_output_shape(self, input_shape):
        hidden = input_shape["sequence_output"][-1]
        return (input_shape["sequence_output"][0],
                None if hidden is None else hidden * len(self.modes))

    def get_config(self):
        config = super().get_config()
        config.update({"pooling": self.pooling, "normalize": self.normalize})
        return config
