"""transformers' slow `XLNetTokenizer` as KoBERT uses it, in TensorFlow ops.

skt/kobert-base-v1 declares `XLNetTokenizer` with a SentencePiece `spiece.model`; its own
tokenizer (the `kobert_tokenizer` package's `KoBERTTokenizer`, and monologg's
`KoBertTokenizer` for monologg/kobert and monologg/distilkobert) is the slow (Python)
XLNetTokenizer: it never went through transformers' `tokenizers` conversion, so the reference
is the `sentencepiece` library itself, after XLNet's pre-processing. The steps, in order:

1. `remove_space`: `" ".join(text.strip().split())` (Python's `str.isspace` characters).
2. "``" and "''" become '"'.
3. Unless `keep_accents`: NFKD, then every character with a non-zero canonical combining
   class removed (Python's `unicodedata.combining`). Hangul syllables decompose into
   conjoining jamo here (combining class 0, so kept); the model's own normaliser
   (`nmt_nfkc`, NFKC) composes them back into syllables in step 5.
4. `do_lower_case`: lowercase.
5. The sentencepiece library's normaliser (the model's spec: `nmt_nfkc` longest-match
   character map, whitespace to "▁", the dummy prefix), run by tensorflow-text's
   `SentencepieceTokenizer` (that library), and its unigram Viterbi over the whole normalised
   text in float32, as sentencepiece 0.2 computes it: the best path to each position
   `prefix + score` in float32, ties to the candidate whose last piece starts first,
   user-defined pieces scored `chars * max_score - 0.1`, an unknown character
   `min_score - 10`, consecutive unknown characters one piece (`bertcls.text.unigram`'s
   Viterbi with `score_dtype="float32"`). tensorflow-text's own segmentation is not used for
   unigram models: its bundled sentencepiece breaks float ties the other way (18 of 1,923
   golden texts differed); BPE models keep it.
6. XLNet's digit-comma rule: a piece longer than one character ending in "," after a digit
   (`"▁1,"`, `"00,"`) is re-encoded without its "▁" and "," and followed by ",".
7. Piece -> id through `vocabulary` (the model's pieces for KoBERT; monologg's `vocab.txt`),
   anything missing -> the unknown id.

The tables below are Python 3.11's `unicodedata` (Unicode 14.0): `str.isspace`,
`unicodedata.combining(c) != 0` and `str.isdigit` as code point ranges;
tests/test_kobert.py checks them against `unicodedata`.
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bertcls.text.spm_model import NORMAL, USER_DEFINED, read_model
from bertcls.text.unigram import METASPACE, SentencePieceUnigram, _char_class, valid_utf8

# --- tables ---
SPACE = (
    "9-d 1c-20 85 a0 1680 2000-200a 2028-2029 202f 205f 3000 "
)
COMBINING = (
    "300-34e 350-36f 483-487 591-5bd 5bf 5c1-5c2 5c4-5c5 5c7 610-61a 64b-65f 670 6d6-6dc "
    "6df-6e4 6e7-6e8 6ea-6ed 711 730-74a 7eb-7f3 7fd 816-819 81b-823 825-827 829-82d 859-85b "
    "898-89f 8ca-8e1 8e3-8ff 93c 94d 951-954 9bc 9cd 9fe a3c a4d abc acd b3c b4d bcd c3c c4d "
    "c55-c56 cbc ccd d3b-d3c d4d dca e38-e3a e48-e4b eb8-eba ec8-ecb f18-f19 f35 f37 f39 "
    "f71-f72 f74 f7a-f7d f80 f82-f84 f86-f87 fc6 1037 1039-103a 108d 135d-135f 1714-1715 1734 "
    "17d2 17dd 18a9 1939-193b 1a17-1a18 1a60 1a75-1a7c 1a7f 1ab0-1abd 1abf-1ace 1b34 1b44 "
    "1b6b-1b73 1baa-1bab 1be6 1bf2-1bf3 1c37 1cd0-1cd2 1cd4-1ce0 1ce2-1ce8 1ced 1cf4 1cf8-1cf9 "
    "1dc0-1dff 20d0-20dc 20e1 20e5-20f0 2cef-2cf1 2d7f 2de0-2dff 302a-302f 3099-309a a66f "
    "a674-a67d a69e-a69f a6f0-a6f1 a806 a82c a8c4 a8e0-a8f1 a92b-a92d a953 a9b3 a9c0 aab0 "
    "aab2-aab4 aab7-aab8 aabe-aabf aac1 aaf6 abed fb1e fe20-fe2f 101fd 102e0 10376-1037a 10a0d "
    "10a0f 10a38-10a3a 10a3f 10ae5-10ae6 10d24-10d27 10eab-10eac 10f46-10f50 10f82-10f85 11046 "
    "11070 1107f 110b9-110ba 11100-11102 11133-11134 11173 111c0 111ca 11235-11236 112e9-112ea "
    "1133b-1133c 1134d 11366-1136c 11370-11374 11442 11446 1145e 114c2-114c3 115bf-115c0 1163f "
    "116b6-116b7 1172b 11839-1183a 1193d-1193e 11943 119e0 11a34 11a47 11a99 11c3f 11d42 "
    "11d44-11d45 11d97 16af0-16af4 16b30-16b36 16ff0-16ff1 1bc9e 1d165-1d169 1d16d-1d172 "
    "1d17b-1d182 1d185-1d18b 1d1aa-1d1ad 1d242-1d244 1e000-1e006 1e008-1e018 1e01b-1e021 "
    "1e023-1e024 1e026-1e02a 1e130-1e136 1e2ae 1e2ec-1e2ef 1e8d0-1e8d6 1e944-1e94a "
)
DIGIT = (
    "30-39 b2-b3 b9 660-669 6f0-6f9 7c0-7c9 966-96f 9e6-9ef a66-a6f ae6-aef b66-b6f be6-bef "
    "c66-c6f ce6-cef d66-d6f de6-def e50-e59 ed0-ed9 f20-f29 1040-1049 1090-1099 1369-1371 "
    "17e0-17e9 1810-1819 1946-194f 19d0-19da 1a80-1a89 1a90-1a99 1b50-1b59 1bb0-1bb9 1c40-1c49 "
    "1c50-1c59 2070 2074-2079 2080-2089 2460-2468 2474-247c 2488-2490 24ea 24f5-24fd 24ff "
    "2776-277e 2780-2788 278a-2792 a620-a629 a8d0-a8d9 a900-a909 a9d0-a9d9 a9f0-a9f9 aa50-aa59 "
    "abf0-abf9 ff10-ff19 104a0-104a9 10a40-10a43 10d30-10d39 10e60-10e68 11052-1105a "
    "11066-1106f 110f0-110f9 11136-1113f 111d0-111d9 112f0-112f9 11450-11459 114d0-114d9 "
    "11650-11659 116c0-116c9 11730-11739 118e0-118e9 11950-11959 11c50-11c59 11d50-11d59 "
    "11da0-11da9 16a60-16a69 16ac0-16ac9 16b50-16b59 1d7ce-1d7ff 1e140-1e149 1e2f0-1e2f9 "
    "1e950-1e959 1f100-1f10a 1fbf0-1fbf9 "
)
# --- end of tables ---

_SPACE_RUN = _char_class(SPACE) + "+"
_COMBINING_CLASS = _char_class(COMBINING)
_DIGIT_COMMA = "(?s).*" + _char_class(DIGIT) + ","
_NUL_STANDIN = "\ufdd0"  # a noncharacter NFKD leaves alone: ICU stops reading at NUL


class XLNetPieces(tf.Module):
    """Token ids of the slow `XLNetTokenizer` (see the module docstring) in TF ops.

    Args:
        model: the SentencePiece model's bytes.
        vocabulary: the id of each piece (a list; index = id).
        unk_id: the id of a piece missing from `vocabulary`.
        remove_space, keep_accents, lowercase: XLNetTokenizer's `remove_space`,
            `keep_accents`, `do_lower_case`.
    """

    def __init__(self, model, vocabulary, unk_id, remove_space=True, keep_accents=False,
                 lowercase=False, name=None):
        super().__init__(name=name)
        self._spm = tf_text.SentencepieceTokenizer(model=model, out_type=tf.string)
        spm = read_model(model)
        self._unigram = None
        if spm.model_type == "unigram":
            normal = [s for s, t in zip(spm.scores, spm.types) if t == NORMAL]
            top = np.float32(max(normal))
            pieces = []
            for i, (piece, score, kind) in enumerate(zip(spm.pieces, spm.scores, spm.types)):
                if kind == USER_DEFINED:  # sentencepiece's bonus: always selected
                    score = float(np.float32(float(np.float32(len(piece)) * top) - 0.1))
                elif kind != NORMAL:  # control, unknown, unused: never matched in text
                    piece = f"\x00reserved{i}"
                pieces.append((piece, score))
            self._unigram = SentencePieceUnigram(
                pieces, spm.unk_id, score_dtype="float32",
                unk_score=float(np.float32(min(normal)) - np.float32(10.0)))
            self._model_pieces = tf.constant(spm.pieces)
        ids = {}
        for i, piece in enumerate(vocabulary):  # a repeated piece: the last id, as dict()
            ids[piece] = i
        self._ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(ids), tf.string), tf.constant(list(ids.values()), tf.int32)),
            default_value=unk_id)
        self.remove_space = bool(remove_space)
        self.keep_accents = bool(keep_accents)
        self.lowercase = bool(lowercase)

    def preprocess(self, strings):
        """XLNetTokenizer's `preprocess_text` of a string tensor."""
        x = valid_utf8(tf.convert_to_tensor(strings))
        if self.remove_space:
            x = tf.strings.regex_replace(x, _SPACE_RUN, " ")
            x = tf.strings.regex_replace(x, "^ | $", "")
        x = tf.strings.regex_replace(x, "``", '"')
        x = tf.strings.regex_replace(x, "''", '"')
        if not self.keep_accents or self.lowercase:
            x = tf.strings.regex_replace(x, "\x00", _NUL_STANDIN)
            if not self.keep_accents:
                x = tf_text.normalize_utf8(x, "NFKD")
                x = tf.strings.regex_replace(x, _COMBINING_CLASS, "")
            if self.lowercase:
                x = tf.strings.lower(x, encoding="utf-8")
            x = tf.strings.regex_replace(x, _NUL_STANDIN, "\x00")
        return x

    def _segment(self, texts):
        """Pieces (ragged strings) of pre-processed texts, as `sp_model.encode(out_type=str)`
        (an unknown piece is the model's unknown piece)."""
        pieces = self._spm.tokenize(texts)
        if self._unigram is None:  # BPE: the library's own segmentation
            return pieces
        normalized = tf.strings.reduce_join(pieces, axis=1)
        chars = tf.strings.unicode_split(normalized, "UTF-8")
        ids = self._unigram._viterbi(chars)[0]
        return ids.with_flat_values(tf.gather(self._model_pieces, ids.flat_values))

    def pieces(self, strings):
        """The pieces (ragged strings, batch x pieces) of a rank-1 string tensor."""
        pieces = self._segment(self.preprocess(strings))
        flat = pieces.flat_values
        split = tf.strings.regex_full_match(flat, _DIGIT_COMMA)
        which = tf.cast(tf.where(split)[:, 0], tf.int32)
        chosen = tf.gather(flat, which)
        # piece[:-1] without "▁", encoded again ("," is one byte).
        inner = tf.strings.regex_replace(
            tf.strings.regex_replace(chosen, ",$", ""), METASPACE, "")
        sub = self._segment(inner)
        first = sub.row_splits[:-1]
        has_first = sub.row_lengths() > 0
        head = tf.gather(sub.flat_values, tf.minimum(
            first, tf.maximum(tf.size(sub.flat_values, out_type=tf.int64) - 1, 0)))
        # A piece not starting with "▁" loses the "▁" its re-encoding starts with.
        strip = (has_first & ~tf.strings.regex_full_match(chosen, "(?s)" + METASPACE + ".*")
                 & tf.strings.regex_full_match(head, "(?s)" + METASPACE + ".*"))
        drop = strip & tf.equal(head, METASPACE)
        shorten = strip & ~drop
        is_first = tf.scatter_nd(first[:, None], tf.ones_like(first),
                                 tf.shape(sub.flat_values, out_type=tf.int64)) > 0
        owner = sub.value_rowids()
        values = sub.flat_values
        values = tf.where(is_first & tf.gather(shorten, owner),
                          tf.strings.regex_replace(values, "^" + METASPACE, ""), values)
        keep = ~(is_first & tf.gather(drop, owner))
        sub = tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(values, keep), tf.boolean_mask(owner, keep),
            nrows=tf.shape(chosen, out_type=tf.int64)[0])
        sub = tf.concat([sub, tf.RaggedTensor.from_tensor(
            tf.fill(tf.stack([tf.shape(chosen)[0], 1]), ","))], axis=1)
        # Each piece -> itself, or its re-encoding: gather from [flat, sub values].
        size = tf.size(flat)
        lengths = tf.tensor_scatter_nd_update(
            tf.ones([size], tf.int32), which[:, None], tf.cast(sub.row_lengths(), tf.int32))
        source = tf.tensor_scatter_nd_update(
            tf.range(size), which[:, None], size + tf.cast(sub.row_splits[:-1], tf.int32))
        index = tf.ragged.range(lengths) + source[:, None]
        values = tf.gather(tf.concat([flat, sub.flat_values], axis=0), index.flat_values)
        rows = tf.repeat(pieces.value_rowids(), tf.cast(lengths, tf.int64))
        return tf.RaggedTensor.from_value_rowids(values, rows, nrows=pieces.nrows())

    def tokenize(self, strings):
        """Token ids of a rank-1 string tensor, ragged int32 (batch, tokens)."""
        pieces = self.pieces(strings)
        return pieces.with_flat_values(self._ids.lookup(pieces.flat_values))

    def tokenize_with_offsets(self, strings):
        raise ValueError(
            "The KoBERT (XLNetTokenizer) layout has no character offsets: the text is "
            "NFKD-normalised before SentencePiece sees it, and transformers' slow "
            "XLNetTokenizer has no offset mapping either. Question answering and "
            "offset-based tagging need a tokenizer with offsets.")
