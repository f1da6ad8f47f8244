"""`make_mlm_dataset`: raw text -> masked-LM training batches, masked anew every epoch.

    texts -> make_dataset (shard, shuffle, encode in the graph, bucket by length)
          -> mask (dynamic: a new draw every time a batch is read) -> (features, labels)

Masking is BERT's (and transformers' `DataCollatorForLanguageModeling`'s): each real token
that is not a special token is chosen with probability `mask_probability` (15%); a chosen
token becomes the mask token 80% of the time, a random token 10% (drawn from the
vocabulary's non-special tokens), and stays as it is 10%. Labels are the original ids at
chosen positions and -100 everywhere else (what `BertMaskedLM`'s loss and accuracy ignore).
With `whole_word=True` words are chosen instead of tokens, and every piece of a chosen word
is masked: a WordPiece word is a token and the `##` pieces after it, a SentencePiece word a
`▁` piece and the pieces after it.

The draws come from one `tf.random.Generator` whose state lives outside the pipeline, so
every pass over the dataset (every epoch) masks differently, and the same `seed` gives the
same masks in the same order.
"""

import os

import numpy as np
import tensorflow as tf

from bertcls.text.feature_encoder import FeatureEncoder
from bertcls.text.sentencepiece_encoder import SentencePieceEncoder  # noqa: F401 (doctest)
from bertcls.text.text_encoder import TextEncoder
from bertcls.training.pipeline import IGNORE_INDEX, make_dataset

METASPACE = "\u2581"


def read_text_file(path):
    """The non-blank lines of a UTF-8 text file, stripped (one text per line)."""
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(
            f"texts: cannot read the text file {os.fspath(path)!r} ({type(e).__name__}: {e}); "
            f"expected a UTF-8 file with one text per line.") from e


def _check_rate(name, value, low=0.0, high=1.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low}, {high}], received {value!r}.")
    return float(value)


class TokenMasker:
    """Dynamic BERT masking of encoded batches (see the module docstring).

    Args:
        encoder: the `FeatureEncoder` / `SentencePieceEncoder` the ids come from (its mask
            token, special tokens and vocabulary).
        mask_probability: the share of tokens (or words) chosen.
        mask_token_rate, random_token_rate: of the chosen tokens, the share replaced by the
            mask token and by a random token (the rest stay).
        whole_word: choose whole words.
        seed: an int for reproducible masks, or None.

    Call arguments:
        features: a dict of int32 `(batch, length)` tensors (`input_ids`, `attention_mask`,
            ...).

    Returns:
        `(features, labels)`: the features with masked `input_ids`, and int32 labels of
        their shape (the original id where chosen, -100 elsewhere).

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]
    >>> masker = TokenMasker(FeatureEncoder(vocab), mask_probability=1.0,
    ...                      mask_token_rate=1.0, random_token_rate=0.0, seed=0)
    >>> features, labels = masker({"input_ids": tf.constant([[2, 5, 6, 3, 0]]),
    ...                            "attention_mask": tf.constant([[1, 1, 1, 1, 0]])})
    >>> features["input_ids"].numpy().tolist(), labels.numpy().tolist()
    ([[2, 4, 4, 3, 0]], [[-100, 5, 6, -100, -100]])
    """

    def __init__(self, encoder, mask_probability=0.15, mask_token_rate=0.8,
                 random_token_rate=0.1, whole_word=False, seed=None):
        if not isinstance(encoder, TextEncoder):
            raise ValueError(
                f"encoder must be a FeatureEncoder or SentencePieceEncoder, received "
                f"{type(encoder).__name__}.")
        if getattr(encoder, "mask_token_id", None) is None:
            raise ValueError(
                f"encoder: its vocabulary has no mask token (mask_token="
                f"{getattr(encoder, 'mask_token', None)!r}); masked-LM training needs one.")
        self.mask_probability = _check_rate("mask_probability", mask_probability)
        self.mask_token_rate = _check_rate("mask_token_rate", mask_token_rate)
        self.random_token_rate = _check_rate("random_token_rate", random_token_rate)
        if self.mask_token_rate + self.random_token_rate > 1.0 + 1e-9:
            raise ValueError(
                f"mask_token_rate + random_token_rate must be at most 1, received "
                f"{mask_token_rate!r} + {random_token_rate!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, received {seed!r}.")
        self.whole_word = bool(whole_word)
        self.mask_token_id = int(encoder.mask_token_id)
        vocabulary = list(encoder.vocabulary)
        special = np.zeros(len(vocabulary), bool)
        special[list(encoder.special_token_ids)] = True
        self._special = tf.constant(special)
        self._ordinary_ids = tf.constant(np.flatnonzero(~special).astype(np.int32))
        if isinstance(encoder, FeatureEncoder):
            continues = [t.startswith("##") for t in vocabulary]
        else:
            continues = [not t.startswith(METASPACE) for t in vocabulary]
        self._continues = tf.constant(np.array(continues, bool) & ~special)
        self.generator = (tf.random.Generator.from_seed(seed) if seed is not None
                          else tf.random.Generator.from_non_deterministic_state())

    def __call__(self, features):
        ids = tf.cast(features["input_ids"], tf.int32)
        shape = tf.shape(ids)
        candidate = (tf.cast(features["attention_mask"], tf.bool)
                     & ~tf.gather(self._special, ids))
        draw = self.generator.uniform(shape)
        if self.whole_word:
            chosen = self._whole_words(ids, candidate, draw)
        else:
            chosen = candidate & (draw < self.mask_probability)
        how = self.generator.uniform(shape)
        random_ids = tf.gather(self._ordinary_ids, self.generator.uniform(
            shape, maxval=tf.size(self._ordinary_ids), dtype=tf.int32))
        masked = tf.where(chosen & (how < self.mask_token_rate), self.mask_token_id, ids)
        replace = chosen & (how >= self.mask_token_rate) & (
            how < self.mask_token_rate + self.random_token_rate)
        masked = tf.where(replace, random_ids, masked)
        labels = tf.where(chosen, ids, IGNORE_INDEX)
        return dict(features, input_ids=masked), labels

    def _whole_words(self, ids, candidate, draw):
        """Chosen positions when whole words are drawn: a word's draw is its first piece's."""
        previous = tf.pad(candidate[:, :-1], [[0, 0], [1, 0]])
        start = candidate & (~tf.gather(self._continues, ids) | ~previous)
        word = tf.cumsum(tf.cast(start, tf.int32), axis=1)  # 1.. per row; 0 before any word
        width = tf.shape(ids)[1] + 1
        rows = tf.range(tf.shape(ids)[0])[:, None] * width
        chosen_start = tf.cast(start & (draw < self.mask_probability), tf.int32)
        by_word = tf.math.unsorted_segment_max(
            chosen_start, word + rows, num_segments=tf.shape(ids)[0] * width)
        return candidate & (tf.gather(by_word, word + rows) > 0)


def make_mlm_dataset(texts, encoder, batch_size=32, mask_probability=0.15,
                     mask_token_rate=0.8, random_token_rate=0.1, whole_word=False, seed=None,
                     shuffle=True, bucket_lengths="auto", static_shapes=False,
                     drop_remainder=False, num_shards=1, shard_index=0, repeat=False):
    """Masked-LM training batches `(features, labels)` from raw text, for `BertMaskedLM.fit`.

    Texts are encoded and bucketed by length as `make_dataset` does (single texts; each is
    cut to the encoder's `max_seq_len`), then masked as the module docstring says, anew on
    every pass.

    Args:
        texts: a list of strings, or the path of a UTF-8 text file (one text per line, blank
            lines skipped).
        encoder: the model's `FeatureEncoder` or `SentencePieceEncoder`.
        batch_size: texts per batch.
        mask_probability: share of tokens (or words) chosen for prediction (BERT: 0.15).
        mask_token_rate, random_token_rate: of those, the share replaced by the mask token
            (0.8) and by a random token (0.1); the rest keep their token.
        whole_word: choose whole words (WordPiece `##` pieces, SentencePiece `▁` words).
        seed: int for reproducible shuffling and masks, or None.
        shuffle: shuffle the texts every epoch.
        bucket_lengths: as in `make_dataset` (`"auto"`, a list, or None for `max_seq_len`).
        static_shapes: every batch `(batch_size, max_seq_len)` (TPUs): fixed padding and the
            last incomplete batch dropped.
        drop_remainder, num_shards, shard_index, repeat: as in `make_dataset`.

    Returns:
        A `tf.data.Dataset` of `(features, labels)`: features as the encoder's dict with
        masked `input_ids`, labels int32 of the same shape (-100 where nothing is predicted).

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "kim", "went", "home", "##s"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=16)
    >>> ds = make_mlm_dataset(["kim went homes", "kim went home"] * 4, encoder,
    ...                       batch_size=8, seed=1)
    >>> features, labels = next(iter(ds))
    >>> tuple(features["input_ids"].shape), tuple(labels.shape)
    ((8, 16), (8, 16))
    >>> bool(((labels.numpy() == -100) | (features["attention_mask"].numpy() == 1)).all())
    True
    """
    if isinstance(texts, (str, os.PathLike)):
        if not os.path.isfile(texts):
            raise ValueError(
                f"texts must be a list of strings or the path of a text file; received "
                f"{os.fspath(texts)[:80]!r}, which is not a file.")
        texts = read_text_file(texts)
    if isinstance(texts, tuple):
        raise ValueError("texts: masked-LM training takes single texts, not sentence pairs "
                         "(a tuple); pass a list of strings.")
    masker = TokenMasker(encoder, mask_probability, mask_token_rate, random_token_rate,
                         whole_word, seed)
    if static_shapes:
        if bucket_lengths != "auto":
            raise ValueError(
                f"static_shapes=True pads every batch to max_seq_len; it cannot be combined "
                f"with bucket_lengths={bucket_lengths!r}.")
        bucket_lengths, drop_remainder = None, True
    ds = make_dataset(list(texts) if not isinstance(texts, list) else texts, None,
                      encoder=encoder, batch_size=batch_size, shuffle=shuffle, seed=seed,
                      bucket_lengths=bucket_lengths, drop_remainder=drop_remainder,
                      num_shards=num_shards, shard_index=shard_index, repeat=repeat)
    # One call at a time: the generator's draws then follow the batches' order (seeded).
    return ds.map(masker, num_parallel_calls=None).prefetch(
        tf.data.AUTOTUNE)
