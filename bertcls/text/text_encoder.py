"""`TextEncoder`: what every feature encoder layer shares once text is token ids.

A subclass tokenises one batch of strings (`_tokenize`); this base checks the inputs (strings
or `(texts_a, texts_b)` pairs), truncates pairs longest-first like transformers, lays out the
special tokens (`[CLS] a [SEP] b [SEP]`, or XLM-R's `<s> a </s></s> b </s>`), pads, and returns
`input_ids` / `attention_mask` / `token_type_ids` (+ `offsets`).
"""

import keras
import numpy as np
import tensorflow as tf

from bertcls.text.inputs import (ENCODER_INPUT, TextInputError, check_encoder_strings,
                                 refuse)

PADDING_MODES = ("max_length", "longest")


class TextEncoder(keras.layers.Layer):
    """Base of `FeatureEncoder` and `SentencePieceEncoder` (not used directly).

    Subclasses set `cls_token_id`, `sep_token_id`, `pad_token_id`, and may set
    `pair_separators` (`[SEP]`s between the two texts of a pair, 1 for BERT, 2 for XLM-R) and
    `segment_ids` (False: `token_type_ids` are all zeros, as for RoBERTa-style models), then
    implement `_tokenize(strings, offsets)` for a rank-1 string tensor, returning
    `(ids,)` or `(ids, starts, ends)` as ragged int32 tensors (batch, tokens).
    """

    pair_separators = 1
    segment_ids = True

    def _init_encoding(self, max_seq_len, padding, return_offsets):
        # Strings and ragged tensors pass through Keras untouched.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if padding not in PADDING_MODES:
            raise ValueError(
                f"`padding` must be one of {PADDING_MODES}, received {padding!r}.")
        if not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool) or (
                max_seq_len < 2):
            raise ValueError(
                f"`max_seq_len` must be an integer >= 2 (room for the two special tokens), "
                f"received {max_seq_len!r}.")
        self.max_seq_len = max_seq_len
        self.padding = padding
        self.return_offsets = bool(return_offsets)

    @property
    def pair_special_tokens(self):
        """Special tokens in a pair: the first token, the separators, the last."""
        return 2 + self.pair_separators

    # --- Inputs ----------------------------------------------------------------------------

    def _segments(self, inputs):
        """The input as a list of one or two string tensors of equal rank (0 or 1)."""
        name = type(self).__name__
        if isinstance(inputs, tuple) or (
                isinstance(inputs, list) and len(inputs) == 2
                and not any(x is None or isinstance(x, (str, bytes, int, float, np.generic))
                            for x in inputs)):
            if len(inputs) != 2:
                raise ValueError(
                    f"Sentence pairs are passed as a tuple (texts_a, texts_b); received a "
                    f"tuple of {len(inputs)} items.")
            segments = list(inputs)
        else:
            segments = [inputs]
        out = []
        for x in segments:
            if isinstance(x, dict):
                refuse("inputs", x, ENCODER_INPUT, where=name)
            if isinstance(x, (list, tuple)) and not x:
                x = tf.constant([], tf.string)
            if not isinstance(x, (tf.Tensor, tf.RaggedTensor)) and not tf.is_symbolic_tensor(x):
                check_encoder_strings(x, name)
                try:
                    x = tf.convert_to_tensor(x)
                except (ValueError, TypeError) as e:
                    raise ValueError(
                        f"{name} takes strings, received {type(x).__name__}: {e}") from e
            if x.dtype != tf.string:
                raise TextInputError(
                    f"{name}: `inputs` must be {ENCODER_INPUT}, received a tensor of dtype "
                    f"{x.dtype.name}.")
            if not isinstance(x, tf.RaggedTensor) and x.shape.rank == 2 and x.shape[1] == 1:
                x = tf.squeeze(x, axis=1)  # keras.Input(shape=(1,), dtype="string")
            if isinstance(x, tf.RaggedTensor) or x.shape.rank not in (0, 1):
                raise ValueError(
                    f"{name} takes a string (rank 0) or a batch of strings (rank 1, "
                    f"or (batch, 1)), received shape {x.shape}.")
            out.append(x)
        if len(out) == 2 and self.max_seq_len < self.pair_special_tokens:
            raise ValueError(
                f"Sentence pairs need max_seq_len >= {self.pair_special_tokens} (room for "
                f"the special tokens), this encoder has max_seq_len={self.max_seq_len}.")
        if len(out) == 2 and not out[0].shape.is_compatible_with(out[1].shape):
            raise ValueError(
                f"Both halves of a sentence pair must have the same shape, received shapes "
                f"{out[0].shape} and {out[1].shape}.")
        return out

    def _truncated_lengths(self, lengths):
        """Hugging Face's longest-first truncation of a pair: kept tokens per segment."""
        budget = self.max_seq_len - self.pair_special_tokens
        n1, n2 = lengths
        short = tf.minimum(n1, n2)
        halves = 2 * short > budget
        short_kept = tf.where(halves, budget // 2, short)
        long_kept = tf.where(halves, budget // 2 + budget % 2, budget - short)
        first_short = n1 <= n2
        fits = n1 + n2 <= budget
        return [tf.where(fits, n1, tf.where(first_short, short_kept, long_kept)),
                tf.where(fits, n2, tf.where(first_short, long_kept, short_kept))]

    # --- Encoding --------------------------------------------------------------------------

    def _tokenize(self, strings, offsets):
        raise NotImplementedError

    def __call__(self, inputs, *args, **kwargs):
        # Check concrete input here, before Keras' call machinery, which would wrap a bad
        # input's error in "Exception encountered when calling ..." (with terminal colour
        # codes); Keras' symbolic inputs (keras.Input) are checked by `call`.
        items = inputs if isinstance(inputs, (tuple, list)) else [inputs]
        if not any(isinstance(x, keras.KerasTensor) for x in items):
            segments = self._segments(inputs)
            inputs = tuple(segments) if len(segments) == 2 else segments[0]
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        segments = self._segments(inputs)
        scalar = segments[0].shape.rank == 0
        if scalar:
            segments = [tf.expand_dims(x, 0) for x in segments]
        parts = [self._tokenize(x, self.return_offsets) for x in segments]
        if len(parts) == 1 and not self.return_offsets:
            outputs = self._single_layout(parts[0][0])
            return {k: v[0] for k, v in outputs.items()} if scalar else outputs
        if len(parts) == 1:
            parts = [[t[:, :self.max_seq_len - 2] for t in parts[0]]]
        else:
            lengths = [tf.cast(p[0].row_lengths(), tf.int32) for p in parts]
            kept = self._truncated_lengths(lengths)
            parts = [[tf.ragged.boolean_mask(t, tf.ragged.range(n) < k[:, None]) for t in p]
                     for p, n, k in zip(parts, lengths, kept)]
        batch = parts[0][0].nrows()

        def column(value, width=1):
            return tf.RaggedTensor.from_tensor(tf.fill([batch, width], value))

        def laid_out(pieces, first, separator, last):
            out = [column(first), pieces[0]]
            if len(pieces) == 2:
                out += [column(separator, self.pair_separators), pieces[1]]
            return tf.concat(out + [column(last)], axis=1)

        ids = laid_out([p[0] for p in parts], self.cls_token_id, self.sep_token_id,
                       self.sep_token_id)
        shape = [None, self.max_seq_len] if self.padding == "max_length" else None
        input_ids = ids.to_tensor(self.pad_token_id, shape=shape)
        width = tf.shape(input_ids)[1]
        total = tf.cast(ids.row_lengths(), tf.int32)
        attention_mask = tf.sequence_mask(total, width, dtype=tf.int32)
        if len(parts) == 2 and self.segment_ids:
            first = tf.cast(parts[0][0].row_lengths(), tf.int32) + 1 + self.pair_separators
            token_type_ids = attention_mask - tf.sequence_mask(first, width, dtype=tf.int32)
        else:
            token_type_ids = tf.zeros_like(input_ids)
        outputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                   "token_type_ids": token_type_ids}
        if self.return_offsets:
            outputs["offsets"] = tf.stack(
                [laid_out([p[i] for p in parts], 0, 0, 0).to_tensor(0, shape=shape)
                 for i in (1, 2)], axis=-1)
        if scalar:
            outputs = {k: v[0] for k, v in outputs.items()}
        return outputs

    def _single_layout(self, ids):
        """`[first] ids [last]`, padded, with dense ops only (the common case: one text per
        example, no offsets); the same tensors as the general layout in `call`."""
        ids = ids[:, :self.max_seq_len - 2]
        total = tf.cast(ids.row_lengths(), tf.int32) + 2
        batch = tf.shape(total)[0]
        if self.padding == "max_length":
            body = ids.to_tensor(self.pad_token_id, shape=[None, self.max_seq_len - 2])
            width = self.max_seq_len
        else:
            body = ids.to_tensor(self.pad_token_id)
            # (An empty batch is (0, 0), as in the general layout.)
            width = (tf.shape(body)[1] + 2) * tf.minimum(batch, 1)
        input_ids = tf.concat([tf.fill([batch, 1], self.cls_token_id), body,
                               tf.fill([batch, 1], self.pad_token_id)], axis=1)[:, :width]
        position = tf.range(width)[None, :]
        input_ids = tf.where(position == total[:, None] - 1, self.sep_token_id, input_ids)
        if self.padding == "max_length":
            input_ids = tf.ensure_shape(input_ids, [None, self.max_seq_len])
        return {"input_ids": input_ids,
                "attention_mask": tf.sequence_mask(total, width, dtype=tf.int32),
                "token_type_ids": tf.zeros_like(input_ids)}

    # --- Decoding --------------------------------------------------------------------------

    def decode(self, ids, skip_special_tokens=False):
        """Token ids back to text, as transformers' `tokenizer.decode(ids)` does.

        Args:
            ids: a sequence of ids (list, numpy array or tensor), or a batch of them.
            skip_special_tokens: leave out the special tokens (`special_token_ids`).

        Returns:
            A string, or a list of strings for a batch.

        Raises:
            ValueError: ids of another rank, or an id outside the vocabulary.
        """
        ids = np.asarray(ids.numpy() if hasattr(ids, "numpy") else ids)
        if ids.ndim == 2:
            return [self.decode(row, skip_special_tokens) for row in ids]
        if ids.ndim != 1:
            raise ValueError(f"`decode` takes a 1-D or 2-D array of ids, received {ids.shape}.")
        skip = set(self.special_token_ids) if skip_special_tokens else set()
        tokens = []
        for i in ids.tolist():
            if not 0 <= i < self.vocabulary_size:
                raise ValueError(
                    f"Token id {i} is outside the vocabulary [0, {self.vocabulary_size}).")
            if i not in skip:
                tokens.append(self.vocabulary[i])
        return self._join_tokens(tokens)

    def _join_tokens(self, tokens):
        """The decoded text of a list of vocabulary tokens (the tokenizer's own decoder)."""
        raise NotImplementedError

    def compute_output_spec(self, inputs):
        segments = inputs if isinstance(inputs, (tuple, list)) else [inputs]
        batch = list(segments[0].shape[:1])
        length = self.max_seq_len if self.padding == "max_length" else None
        spec = {name: keras.KerasTensor(batch + [length], dtype="int32")
                for name in ("input_ids", "attention_mask", "token_type_ids")}
        if self.return_offsets:
            spec["offsets"] = keras.KerasTensor(batch + [length, 2], dtype="int32")
        return spec
