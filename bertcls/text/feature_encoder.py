"""`FeatureEncoder`: raw strings in, BERT inputs out, inside the TensorFlow graph."""

import os

import keras
import numpy as np

from bertcls.hub import resolve_preset
from bertcls.text.text_encoder import PADDING_MODES, TextEncoder  # noqa: F401
from bertcls.text.tokenizer_config import read_tokenizer_config
from bertcls.text.wordpiece import BertWordPiece, read_vocabulary


@keras.saving.register_keras_serializable(package="bertcls")
class FeatureEncoder(TextEncoder):
    """Turns text into `input_ids`, `attention_mask` and `token_type_ids` for a BERT model.

    Token ids are those of `transformers.BertTokenizer` with the same vocabulary and flags
    (Hugging Face's normaliser, pre-tokeniser, WordPiece and special tokens, reproduced with
    TensorFlow ops), laid out as `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`. It runs eagerly,
    in `tf.data.Dataset.map` (batched or not), inside a Keras model fed raw strings and inside an
    exported SavedModel.

    Args:
        vocabulary: list of tokens, or the path of a `vocab.txt` (one token per line).
        lowercase: lowercase the text (Hugging Face's `do_lower_case`).
        strip_accents: remove accents; `None` follows `lowercase` (Hugging Face's rule).
        tokenize_chinese_chars: split every CJK ideograph into a word of its own.
        max_seq_len: the most tokens per example, `[CLS]`/`[SEP]` included; longer input is
            truncated (longest segment first for pairs), never an error.
        padding: `"max_length"` pads every example to `max_seq_len` (fixed shapes, as TPUs
            need); `"longest"` pads to the longest example of the batch.
        return_offsets: also return `offsets`, int32 `(batch, length, 2)`: each token's
            `[start, end)` character span in the input string, `(0, 0)` for special tokens
            and padding (Hugging Face's `offset_mapping`).
        unk_token, cls_token, sep_token, pad_token, mask_token: the special tokens. All but
            `mask_token` must be in the vocabulary; special tokens written literally in the
            text (`"[MASK]"`) are kept as one token, as in Hugging Face.

    Call arguments:
        inputs: a string or a batch of strings (tensor, list or numpy array; shape
            `(batch,)` or `(batch, 1)`), or a tuple `(texts_a, texts_b)` of two such batches
            for sentence pairs.

    Returns:
        A dict of int32 tensors `input_ids`, `attention_mask`, `token_type_ids` of shape
        `(batch, length)` (no batch axis for a single string), plus `offsets` if asked.

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...          "the", "quick", "brown", "fox", "jump", "##s", "!"]
    >>> encoder = FeatureEncoder(vocab, lowercase=True, max_seq_len=8)
    >>> out = encoder(["The quick fox jumps!"])
    >>> out["input_ids"].numpy().tolist()
    [[2, 5, 6, 8, 9, 10, 11, 3]]
    >>> out = encoder((["the fox"], ["brown fox"]))
    >>> out["input_ids"].numpy().tolist(), out["token_type_ids"].numpy().tolist()
    ([[2, 5, 8, 3, 7, 8, 3, 0]], [[0, 0, 0, 0, 1, 1, 1, 0]])
    >>> encoder.decode([2, 5, 8, 9, 10, 3], skip_special_tokens=True)
    'the fox jumps'
    """

    def __init__(self, vocabulary, lowercase=False, strip_accents=None,
                 tokenize_chinese_chars=True, max_seq_len=128, padding="max_length",
                 return_offsets=False, unk_token="[UNK]", cls_token="[CLS]",
                 sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]", **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self._init_encoding(max_seq_len, padding, return_offsets)

        # === Config ===
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary(vocabulary)
        if isinstance(vocabulary, np.ndarray):
            vocabulary = vocabulary.tolist()
        if not isinstance(vocabulary, (list, tuple)) or not all(
                isinstance(t, str) for t in vocabulary):
            raise ValueError(
                "`vocabulary` must be a list of token strings or the path of a vocab.txt, "
                f"received {type(vocabulary).__name__}.")
        self.vocabulary = list(vocabulary)
        missing = [t for t in (cls_token, sep_token, pad_token, unk_token)
                   if t not in self.vocabulary]
        if missing:
            raise ValueError(
                f"The vocabulary ({len(self.vocabulary)} tokens) lacks the special tokens "
                f"{missing}; it must contain {[cls_token, sep_token, pad_token, unk_token]}.")
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.unk_token = unk_token
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.pad_token = pad_token
        self.mask_token = mask_token

        # === Tokenizer ===
        ids = {token: i for i, token in enumerate(self.vocabulary)}
        self.vocabulary_size = len(self.vocabulary)
        self.pad_token_id = ids[pad_token]
        self.cls_token_id = ids[cls_token]
        self.sep_token_id = ids[sep_token]
        self.unk_token_id = ids[unk_token]
        self.mask_token_id = ids.get(mask_token)
        self.special_token_ids = sorted(
            {ids[t] for t in (pad_token, unk_token, cls_token, sep_token, mask_token)
             if t in ids})
        self.tokenizer = BertWordPiece(
            self.vocabulary, lowercase=self.lowercase, strip_accents=strip_accents,
            tokenize_chinese_chars=self.tokenize_chinese_chars, unk_token=unk_token,
            special_tokens=(pad_token, unk_token, cls_token, sep_token, mask_token))
        self.built = True

    # --- Construction from Hugging Face files ----------------------------------------------

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Build from a Hugging Face tokenizer directory or Hub id (e.g. `"klue/bert-base"`).

        Reads `vocab.txt` and honours `tokenizer_config.json`'s `do_lower_case`,
        `strip_accents`, `tokenize_chinese_chars` and special tokens (Hugging Face's defaults
        when a key or the file is missing; a value of the wrong type, such as the string
        `"false"`, is a `bertcls.PresetError` naming the file). `overrides` replace any
        constructor argument.
        """
        return cls.from_directory(resolve_preset(preset), **overrides)

    @classmethod
    def from_directory(cls, directory, **overrides):
        """`from_preset` on a local directory already resolved (nothing is fetched)."""
        vocab_file = os.path.join(directory, "vocab.txt")
        if not os.path.isfile(vocab_file):
            raise ValueError(
                f"Preset {directory!r} has no vocab.txt (looked in {directory}); a BERT "
                f"WordPiece tokenizer directory needs vocab.txt and tokenizer_config.json.")
        config_file = os.path.join(directory, "tokenizer_config.json")
        config = read_tokenizer_config(config_file) if os.path.isfile(config_file) else {}
        kwargs = {
            "vocabulary": vocab_file,
            "lowercase": config.pop("do_lower_case", True),
            "strip_accents": config.pop("strip_accents", None),
            "tokenize_chinese_chars": config.pop("tokenize_chinese_chars", True),
        }
        kwargs.update(config)  # the special tokens
        kwargs.update(overrides)
        return cls(**kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary": self.vocabulary,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "max_seq_len": self.max_seq_len,
            "padding": self.padding,
            "return_offsets": self.return_offsets,
            "unk_token": self.unk_token,
            "cls_token": self.cls_token,
            "sep_token": self.sep_token,
            "pad_token": self.pad_token,
            "mask_token": self.mask_token,
        })
        return config

    # --- Encoding --------------------------------------------------------------------------

    def _tokenize(self, strings, offsets):
        if offsets:
            return self.tokenizer.tokenize_with_offsets(strings)
        return (self.tokenizer.tokenize(strings),)

    # --- Decoding --------------------------------------------------------------------------

    def _join_tokens(self, tokens):
        """tokenizers' WordPiece decoder: `##` pieces glued on, others after a space, then its
        clean-up (`decode` is `TextEncoder.decode`)."""
        pieces = []
        for token in tokens:
            if pieces:
                token = token[2:] if token.startswith("##") else " " + token
            pieces.append(_cleanup(token))
        return "".join(pieces)


def _cleanup(text):
    """tokenizers' WordPiece decoder clean-up (spaces before punctuation and contractions)."""
    for dirty, clean in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                         (" n't", "n't"), (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"),
                         (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(dirty, clean)
    return text
