"""`SentencePieceEncoder`: raw strings in, inputs of a SentencePiece model (XLM-R, ALBERT,
KoBERT) out, inside the TensorFlow graph.

A layout is data (`_LAYOUT_SPECS`): the special tokens, how the vocabulary is laid out, the
separators between the two texts of a pair, whether token types mark the second text, and
which tokenizer reproduces the reference: transformers 5's Unigram pipeline
(`bertcls.text.unigram`) for XLM-R and ALBERT, the slow XLNetTokenizer
(`bertcls.text.xlnet_pieces`) for KoBERT.
"""

import base64
import json
import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bertcls.text.spm_model import CONTROL, USER_DEFINED, read_model
from bertcls.text.text_encoder import TextEncoder
from bertcls.text.unigram import METASPACE, SentencePieceUnigram, valid_utf8
from bertcls.text.xlnet_pieces import XLNetPieces

LAYOUTS = ("xlm-roberta", "albert", "kobert")

# Special tokens of each layout (transformers' defaults; KoBERT's tokenizer's).
_DEFAULT_TOKENS = {
    "xlm-roberta": {"cls_token": "<s>", "sep_token": "</s>", "pad_token": "<pad>",
                    "unk_token": "<unk>", "mask_token": "<mask>"},
    "albert": {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "<pad>",
               "unk_token": "<unk>", "mask_token": "[MASK]"},
    "kobert": {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
               "unk_token": "[UNK]", "mask_token": "[MASK]"},
}
# layout -> [SEP]s between a pair's texts, token type 1 on the second text, the tokenizer
# ("hf": transformers 5's Unigram pipeline; "xlnet": the slow XLNetTokenizer).
_LAYOUT_SPECS = {
    "xlm-roberta": {"pair_separators": 2, "segment_ids": False, "tokenizer": "hf"},
    "albert": {"pair_separators": 1, "segment_ids": True, "tokenizer": "hf"},
    "kobert": {"pair_separators": 1, "segment_ids": True, "tokenizer": "xlnet"},
}
_TOKEN_NAMES = ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token")
# layout -> (file name, tokenizer_class) written by `save_tokenizer`.
_SAVED_AS = {"xlm-roberta": ("sentencepiece.bpe.model", "XLMRobertaTokenizer"),
             "albert": ("spiece.model", "AlbertTokenizer"),
             "kobert": ("spiece.model", "XLNetTokenizer")}


def read_model_file(path):
    """The bytes of a `.model` file, checked (`ValueError` naming the file otherwise)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"Cannot read the SentencePiece model {str(path)!r}: {e}") from e
    read_model(data, name=str(path))
    return data


@keras.saving.register_keras_serializable(package="bertcls")
class SentencePieceEncoder(TextEncoder):
    """Turns text into `input_ids`, `attention_mask` and `token_type_ids` for a model with a
    SentencePiece vocabulary.

    Token ids are those of transformers 5's tokenizer for the same `.model` file:
    `XLMRobertaTokenizer` (`layout="xlm-roberta"`: fairseq ids, `<s> a </s></s> b </s>`, all
    `token_type_ids` 0) or `AlbertTokenizer` (`layout="albert"`: `[CLS] a [SEP] b [SEP]`, its
    `do_lower_case` / `keep_accents` normalisation). Unigram models are tokenised exactly as
    transformers does (see `bertcls/text/unigram.py`); BPE models, which transformers 5 turns
    into a different Unigram model, follow the `sentencepiece` library instead.
    `layout="kobert"` is KoBERT's tokenizer (skt/kobert-base-v1's `KoBERTTokenizer`, monologg's
    `KoBertTokenizer`): the slow `XLNetTokenizer`'s pre-processing (`remove_space`, NFKD without
    combining marks unless `keep_accents`, `lowercase`), the `sentencepiece` library itself,
    XLNet's digit-comma rule, ids from the model (or from `vocabulary`), and BERT's
    `[CLS] a [SEP] b [SEP]` with token types 0/1, padded on the right (see
    `bertcls/text/xlnet_pieces.py`). It has no offsets. It runs
    eagerly, in `tf.data.Dataset.map`, inside a Keras model fed raw strings and inside an
    exported SavedModel; the model file travels inside the layer's config.

    Args:
        model: the SentencePiece model: the path of a `.model` file or its bytes.
        layout: `"xlm-roberta"`, `"albert"` or `"kobert"` (see above).
        lowercase: lowercase the text (ALBERT's and XLNet's `do_lower_case`).
        keep_accents: ALBERT's / XLNet's `keep_accents` (None: False for `"kobert"`, as
            KoBERT's tokenizer; True otherwise); when False the text is
            NFKD-decomposed and combining marks removed, as transformers does (for ALBERT
            this also splits Hangul syllables into jamo: transformers 5's ALBERT default; for
            KoBERT the model's normaliser composes them again).
        remove_space: XLNet's `remove_space` (`layout="kobert"`): strip the text and turn
            every run of whitespace into one space.
        vocabulary: `layout="kobert"` only: the id of each piece (a list, index = id, or
            the path of a `vocab.txt`), as monologg's `KoBertTokenizer` reads `vocab.txt`;
            None: the model's own ids (skt/kobert-base-v1).
        max_seq_len: the most tokens per example, special tokens included; longer input is
            truncated (longest segment first for pairs), never an error.
        padding: `"max_length"` or `"longest"`.
        return_offsets: also return `offsets` `(batch, length, 2)`: `[start, end)` character
            spans in the input, `(0, 0)` for special tokens and padding.
        cls_token, sep_token, pad_token, unk_token, mask_token: the special tokens; `None`
            takes the layout's default.

    Example (a hand-made model; real ones come from `sentencepiece`'s trainer or a checkpoint
    directory, see `bertcls.text.presets.encoder_from_preset`):

    >>> from bertcls.text.spm_model import CONTROL, NORMAL, UNKNOWN, write_model
    >>> pieces = [("<unk>", 0.0, UNKNOWN), ("<s>", 0.0, CONTROL), ("</s>", 0.0, CONTROL)]
    >>> pieces += [(p, -float(i), NORMAL)
    ...            for i, p in enumerate(["\u2581the", "\u2581fox", "\u2581jump", "s"], 1)]
    >>> encoder = SentencePieceEncoder(write_model(pieces), max_seq_len=8)
    >>> encoder(["the fox jumps"])["input_ids"].numpy().tolist()
    [[0, 4, 5, 6, 7, 2, 1, 1]]
    >>> out = encoder((["the fox"], ["jumps"]))
    >>> out["input_ids"].numpy().tolist(), out["token_type_ids"].numpy().tolist()
    ([[0, 4, 5, 2, 2, 6, 7, 2]], [[0, 0, 0, 0, 0, 0, 0, 0]])
    >>> encoder.decode([0, 4, 5, 6, 7, 2], skip_special_tokens=True)
    'the fox jumps'
    """

    def __init__(self, model, layout="xlm-roberta", lowercase=False, keep_accents=None,
                 max_seq_len=128, padding="max_length", return_offsets=False, cls_token=None,
                 sep_token=None, pad_token=None, unk_token=None, mask_token=None,
                 remove_space=True, vocabulary=None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self._init_encoding(max_seq_len, padding, return_offsets)

        # === Config ===
        if isinstance(model, dict) and isinstance(model.get("base64"), str):
            model = base64.b64decode(model["base64"])
            name = "the SentencePiece model in this layer's config"
        elif isinstance(model, (str, os.PathLike)):
            name = str(model)
            model = read_model_file(model)
        elif isinstance(model, (bytes, bytearray)):
            name = "the SentencePiece model bytes"
        else:
            raise ValueError(
                f"`model` must be the path of a SentencePiece .model file or its bytes, "
                f"received {type(model).__name__}.")
        self.model = bytes(model)
        spm = read_model(self.model, name=name)
        if layout not in LAYOUTS:
            raise ValueError(f"`layout` must be one of {LAYOUTS}, received {layout!r}.")
        self.layout = layout
        self.lowercase = bool(lowercase)
        if keep_accents is None:
            keep_accents = layout != "kobert"
        self.keep_accents = bool(keep_accents)
        self.remove_space = bool(remove_space)
        spec = _LAYOUT_SPECS[layout]
        if vocabulary is not None and layout != "kobert":
            raise ValueError(
                f"`vocabulary` is for layout='kobert' (monologg's vocab.txt); the "
                f"{layout!r} layout takes its ids from the model.")
        if spec["tokenizer"] == "xlnet" and self.return_offsets:
            raise ValueError(
                f"layout={layout!r} has no character offsets (transformers' slow "
                f"XLNetTokenizer has none either); use return_offsets=False.")
        self.custom_vocabulary = _read_vocabulary(vocabulary)
        tokens = dict(_DEFAULT_TOKENS[layout])
        given = dict(cls_token=cls_token, sep_token=sep_token, pad_token=pad_token,
                     unk_token=unk_token, mask_token=mask_token)
        tokens.update({k: v for k, v in given.items() if v is not None})
        for key, value in tokens.items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"`{key}` must be a non-empty string, received {value!r}.")
            setattr(self, key, value)
        if spm.model_type not in ("unigram", "bpe"):
            raise ValueError(
                f"{name} is a SentencePiece {spm.model_type!r} model; SentencePieceEncoder "
                f"reads unigram and BPE models.")
        if spm.byte_fallback:
            raise ValueError(
                f"{name} uses byte fallback, which SentencePieceEncoder does not implement.")
        self.model_type = spm.model_type

        # === Vocabulary, as transformers builds it ===
        pieces = list(zip(spm.pieces, spm.scores))
        if self.custom_vocabulary is not None:
            vocabulary = [(p, 0.0) for p in self.custom_vocabulary]
            unk_id = None  # below: the id of unk_token, as KoBertTokenizer
        elif layout == "xlm-roberta":
            vocabulary = [(self.cls_token, 0.0), (self.pad_token, 0.0),
                          (self.sep_token, 0.0), (self.unk_token, 0.0)] + pieces[3:]
            vocabulary.append((self.mask_token, 0.0))
            unk_id = 3
        elif layout == "albert":
            vocabulary = pieces
            unk_id = 1  # AlbertTokenizer's Unigram(unk_id=1), whatever the model says
        else:
            vocabulary = pieces
            unk_id = spm.unk_id  # XLNetTokenizer: sp_model.PieceToId
        ids = {}
        for i, (piece, _) in enumerate(vocabulary):
            ids[piece] = i
        self.vocabulary = [p for p, _ in vocabulary]
        self.vocabulary_size = len(vocabulary)
        missing = [tokens[k] for k in _TOKEN_NAMES[:4] if tokens[k] not in ids]
        if missing:
            raise ValueError(
                f"The vocabulary of {name} ({len(vocabulary)} pieces, layout {layout!r}) lacks "
                f"the special tokens {missing}.")
        if unk_id is None:
            unk_id = ids[self.unk_token]
        self.cls_token_id = ids[self.cls_token]
        self.sep_token_id = ids[self.sep_token]
        self.pad_token_id = ids[self.pad_token]
        self.unk_token_id = unk_id
        self.mask_token_id = ids.get(self.mask_token)
        # Special tokens matched in the raw text: the five above, and the model's control and
        # user-defined pieces (transformers adds both as added tokens).
        special = {tokens[k]: ids[tokens[k]] for k in _TOKEN_NAMES if tokens[k] in ids}
        for piece, kind in zip(spm.pieces, spm.types):
            if kind in (CONTROL, USER_DEFINED) and piece in ids:
                special.setdefault(piece, ids[piece])
        self.special_token_ids = sorted(
            {ids[tokens[k]] for k in _TOKEN_NAMES if tokens[k] in ids} | {unk_id})
        self.pair_separators = spec["pair_separators"]
        self.segment_ids = spec["segment_ids"]

        # === Tokenizer ===
        albert = layout == "albert"
        if spec["tokenizer"] == "xlnet":
            self.tokenizer = XLNetPieces(
                self.model, self.vocabulary, unk_id, remove_space=self.remove_space,
                keep_accents=self.keep_accents, lowercase=self.lowercase)
        elif self.model_type == "unigram":
            self.tokenizer = SentencePieceUnigram(
                vocabulary, unk_id, spm.charsmap, special, replace_quotes=albert,
                strip_accents=albert and not self.keep_accents,
                lowercase=albert and self.lowercase)
        else:
            if albert:
                raise ValueError(
                    f"{name} is a BPE model; the ALBERT layout needs a unigram model (the "
                    f"only kind transformers' AlbertTokenizer reads as written).")
            self.tokenizer = _SpmLibrary(self.model, len(spm.pieces))
        self._encode_fn = None
        self.built = True

    # --- Construction from Hugging Face files ----------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update({
            "model": {"base64": base64.b64encode(self.model).decode("ascii")},
            "layout": self.layout,
            "lowercase": self.lowercase,
            "keep_accents": self.keep_accents,
            "remove_space": self.remove_space,
            "vocabulary": self.custom_vocabulary,
            "max_seq_len": self.max_seq_len,
            "padding": self.padding,
            "return_offsets": self.return_offsets,
            "cls_token": self.cls_token,
            "sep_token": self.sep_token,
            "pad_token": self.pad_token,
            "unk_token": self.unk_token,
            "mask_token": self.mask_token,
        })
        return config

    def save_tokenizer(self, directory, model_max_length=512):
        """Write the `.model` file and a `tokenizer_config.json` that transformers'
        `AutoTokenizer` and `bertcls.encoder_from_preset` read back to this layout.

        Args:
            directory: an existing directory.
            model_max_length: written to `tokenizer_config.json`.

        Returns:
            The path of the `.model` file written.
        """
        filename, tokenizer_class = _SAVED_AS[self.layout]
        path = os.path.join(directory, filename)
        with open(path, "wb") as f:
            f.write(self.model)
        settings = {name: getattr(self, name) for name in _TOKEN_NAMES}
        settings.update(tokenizer_class=tokenizer_class, model_max_length=model_max_length)
        if self.layout != "xlm-roberta":
            settings.update(do_lower_case=self.lowercase, keep_accents=self.keep_accents)
        if self.layout == "kobert":
            settings["remove_space"] = self.remove_space
            if self.custom_vocabulary is not None:  # monologg's layout: ids from vocab.txt
                with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
                    f.write("".join(piece + "\n" for piece in self.custom_vocabulary))
        with open(os.path.join(directory, "tokenizer_config.json"), "w",
                  encoding="utf-8") as f:
            json.dump(settings, f, indent=2, sort_keys=True)
        return path

    # --- Encoding --------------------------------------------------------------------------

    def _tokenize(self, strings, offsets):
        method = (self.tokenizer.tokenize_with_offsets if offsets or self.layout != "kobert"
                  else lambda x: (self.tokenizer.tokenize(x),))
        if tf.executing_eagerly():
            # The tokenizer's loops are tf.while_loops: trace them once instead of running
            # them op by op in Python.
            if self._encode_fn is None:
                self._encode_fn = tf.function(
                    method, reduce_retracing=True,
                    input_signature=[tf.TensorSpec([None], tf.string)])
            out = self._encode_fn(strings)
        else:
            out = method(strings)
        return out if offsets else out[:1]

    # --- Decoding --------------------------------------------------------------------------

    def _join_tokens(self, tokens):
        """Pieces joined, "▁" read as a space, the leading space dropped (`decode` is
        `TextEncoder.decode`)."""
        text = "".join(tokens).replace(METASPACE, " ")
        return text[1:] if text.startswith(" ") else text


def _read_vocabulary(vocabulary):
    """None, a list of pieces, or a `vocab.txt` read as monologg's KoBertTokenizer does
    (one piece per line, `strip()`ped)."""
    if vocabulary is None:
        return None
    if isinstance(vocabulary, (str, os.PathLike)):
        try:
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line.strip() for line in f]
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"Cannot read the vocabulary {str(vocabulary)!r}: {e}") from e
    vocabulary = list(vocabulary)
    if not vocabulary or not all(isinstance(p, str) for p in vocabulary):
        raise ValueError("`vocabulary` must be a non-empty list of strings (or a vocab.txt).")
    return vocabulary


class _SpmLibrary(tf.Module):
    """The sentencepiece library itself (tensorflow-text's op) for BPE models, with ids in
    the XLM-R layout and offsets in characters."""

    def __init__(self, model, size):
        super().__init__()
        self._spm = tf_text.SentencepieceTokenizer(model=model)
        # spm id -> fairseq id: unknown -> 3, control ids never come out, the rest shift by 1.
        mapping = np.arange(size, dtype=np.int32) + 1
        mapping[0] = 3
        self._ids = tf.constant(mapping)

    def tokenize_with_offsets(self, strings):
        strings = valid_utf8(strings)
        ids, begin, end = self._spm.tokenize_with_offsets(strings)
        ids = ids.with_flat_values(tf.gather(self._ids, ids.flat_values))
        # Byte offsets -> character offsets.
        starts = tf.strings.unicode_decode_with_offsets(strings, "UTF-8")[1]
        lengths = tf.cast(tf.strings.length(strings), tf.int64)
        # Byte start of each character, then the string's end, padded with a huge value.
        bounds = tf.concat([starts, tf.RaggedTensor.from_tensor(lengths[:, None])], axis=1)
        bounds = bounds.to_tensor(np.iinfo(np.int64).max)

        def to_chars(offsets):
            flat = tf.cast(offsets.flat_values, tf.int64)
            row_bounds = tf.gather(bounds, offsets.value_rowids())
            index = tf.searchsorted(row_bounds, flat[:, None], side="left")[:, 0]
            return offsets.with_flat_values(tf.cast(index, tf.int32))

        return (tf.cast(ids, tf.int32), to_chars(begin), to_chars(end))
