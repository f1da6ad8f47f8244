"""Hugging Face-exact SentencePiece Unigram tokenisation in TensorFlow ops.

`SentencePieceUnigram` reproduces what transformers 5 does with a SentencePiece Unigram model
(`XLMRobertaTokenizer`, `AlbertTokenizer`, `XLNetTokenizer`: a `tokenizers` pipeline built from
the `.model` file), with vectorised TensorFlow string and ragged ops, so it runs eagerly, in
`tf.data`, inside a Keras model and inside an exported SavedModel. The steps, in that order:

1. Special tokens written in the raw text (`"<s>"`, `"<mask>"`, ...) are cut out first; each
   piece of text between them is tokenised on its own.
2. Optional pre-normalisers (ALBERT/XLNet): "``" and "''" become '"'; NFKD with all combining
   marks removed; lowercase.
3. The model's precompiled character map, applied as `tokenizers`' `Precompiled` normaliser
   does: a grapheme cluster shorter than 6 bytes is replaced whole by the map's entry for its
   shortest mapped prefix; anything else character by character. (SentencePiece itself applies
   the longest match instead, so the two differ: it recomposes Hangul jamo, `tokenizers` does
   not.)
4. Split on Unicode whitespace; each word gets a leading "▁" and is split again before every
   "▁" (`Metaspace`).
5. Viterbi over the pieces of each word with the vocabulary's scores in float64, ties going to
   the segmentation whose last piece starts first, an unknown character costing the lowest score
   minus 10, consecutive unknown pieces fused into one (`tokenizers`' `Unigram`).

Offsets follow `tokenizers`' alignments: a character produced by normalisation points to the
original character it came from; a replaced grapheme's k-th output character to its k-th
character (or its last); "▁" to the first character of its word.
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bertcls.text.spm_model import charsmap_table

UNK_PENALTY = 10.0
METASPACE = "\u2581"

# --- tables ---
# Unicode White_Space (Rust's char::is_whitespace), what `WhitespaceSplit` splits on.
_WHITESPACE = "9-d 20 85 a0 1680 2000-200a 2028-2029 202f 205f 3000 "
# Characters that continue the grapheme cluster of the character before them (Extend,
# SpacingMark, ZWJ; measured with the `regex` module's \X, tests/data/make_grapheme_tables.py).
_EXTEND = (
    "300-36f 483-489 591-5bd 5bf 5c1-5c2 5c4-5c5 5c7 610-61a 64b-65f 670 6d6-6dc 6df-6e4 6e7-6e8 "
    "6ea-6ed 711 730-74a 7a6-7b0 7eb-7f3 7fd 816-819 81b-823 825-827 829-82d 859-85b 897-89f "
    "8ca-8e1 8e3-903 93a-93c 93e-94f 951-957 962-963 981-983 9bc 9be-9c4 9c7-9c8 9cb-9cd 9d7 "
    "9e2-9e3 9fe a01-a03 a3c a3e-a42 a47-a48 a4b-a4d a51 a70-a71 a75 a81-a83 abc abe-ac5 ac7-ac9 "
    "acb-acd ae2-ae3 afa-aff b01-b03 b3c b3e-b44 b47-b48 b4b-b4d b55-b57 b62-b63 b82 bbe-bc2 "
    "bc6-bc8 bca-bcd bd7 c00-c04 c3c c3e-c44 c46-c48 c4a-c4d c55-c56 c62-c63 c81-c83 cbc cbe-cc4 "
    "cc6-cc8 cca-ccd cd5-cd6 ce2-ce3 cf3 d00-d03 d3b-d3c d3e-d44 d46-d48 d4a-d4d d57 d62-d63 "
    "d81-d83 dca dcf-dd4 dd6 dd8-ddf df2-df3 e31 e33-e3a e47-e4e eb1 eb3-ebc ec8-ece f18-f19 f35 "
    "f37 f39 f3e-f3f f71-f84 f86-f87 f8d-f97 f99-fbc fc6 102d-1037 1039-103e 1056-1059 105e-1060 "
    "1071-1074 1082 1084-1086 108d 109d 135d-135f 1712-1715 1732-1734 1752-1753 1772-1773 "
    "17b4-17d3 17dd 180b-180d 180f 1885-1886 18a9 1920-192b 1930-193b 1a17-1a1b 1a55-1a5e 1a60 "
    "1a62 1a65-1a7c 1a7f 1ab0-1add 1ae0-1aeb 1b00-1b04 1b34-1b44 1b6b-1b73 1b80-1b82 1ba1-1bad "
    "1be6-1bf3 1c24-1c37 1cd0-1cd2 1cd4-1ce8 1ced 1cf4 1cf7-1cf9 1dc0-1dff 200c-200d 20d0-20f0 "
    "2cef-2cf1 2d7f 2de0-2dff 302a-302f 3099-309a a66f-a672 a674-a67d a69e-a69f a6f0-a6f1 a802 "
    "a806 a80b a823-a827 a82c a880-a881 a8b4-a8c5 a8e0-a8f1 a8ff a926-a92d a947-a953 a980-a983 "
    "a9b3-a9c0 a9e5 aa29-aa36 aa43 aa4c-aa4d aa7c aab0 aab2-aab4 aab7-aab8 aabe-aabf aac1 aaeb- "
    "aaef aaf5-aaf6 abe3-abea abec-abed fb1e fe00-fe0f fe20-fe2f ff9e-ff9f 101fd 102e0 "
    "10376-1037a 10a01-10a03 10a05-10a06 10a0c-10a0f 10a38-10a3a 10a3f 10ae5-10ae6 10d24-10d27 "
    "10d69-10d6d 10eab-10eac 10efa-10eff 10f46-10f50 10f82-10f85 11000-11002 11038-11046 11070 "
    "11073-11074 1107f-11082 110b0-110ba 110c2 11100-11102 11127-11134 11145-11146 11173 "
    "11180-11182 111b3-111c0 111c9-111cc 111ce-111cf 1122c-11237 1123e 11241 112df-112ea "
    "11300-11303 1133b-1133c 1133e-11344 11347-11348 1134b-1134d 11357 11362-11363 11366-1136c "
    "11370-11374 113b8-113c0 113c2 113c5 113c7-113ca 113cc-113d0 113d2 113e1-113e2 11435-11446 "
    "1145e 114b0-114c3 115af-115b5 115b8-115c0 115dc-115dd 11630-11640 116ab-116b7 1171d-1171f "
    "11722-1172b 1182c-1183a 11930-11935 11937-11938 1193b-1193e 11940 11942-11943 119d1-119d7 "
    "119da-119e0 119e4 11a01-11a0a 11a33-11a39 11a3b-11a3e 11a47 11a51-11a5b 11a8a-11a99 "
    "11b60-11b67 11c2f-11c36 11c38-11c3f 11c92-11ca7 11ca9-11cb6 11d31-11d36 11d3a 11d3c-11d3d "
    "11d3f-11d45 11d47 11d8a-11d8e 11d90-11d91 11d93-11d97 11ef3-11ef6 11f00-11f01 11f03 "
    "11f34-11f3a 11f3e-11f42 11f5a 13440 13447-13455 1611e-1612f 16af0-16af4 16b30-16b36 16f4f "
    "16f51-16f87 16f8f-16f92 16fe4 16ff0-16ff1 1bc9d-1bc9e 1cf00-1cf2d 1cf30-1cf46 1d165-1d169 "
    "1d16d-1d172 1d17b-1d182 1d185-1d18b 1d1aa-1d1ad 1d242-1d244 1da00-1da36 1da3b-1da6c 1da75 "
    "1da84 1da9b-1da9f 1daa1-1daaf 1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a "
    "1e08f 1e130-1e136 1e2ae 1e2ec-1e2ef 1e4ec-1e4ef 1e5ee-1e5ef 1e6e3 1e6e6 1e6ee-1e6ef 1e6f5 "
    "1e8d0-1e8d6 1e944-1e94a 1f3fb-1f3ff e0020-e007f e0100-e01ef "
)
# Characters after which a grapheme cluster always ends (Control, CR, LF).
_NOT_BASE = "0-1f 7f-9f ad 61c 180e 200b 200e-200f 2028-202e 2060-206f feff fff0-fffb "
# --- end of tables ---


def _char_class(ranges):
    parts = []
    for item in ranges.split():
        first, _, last = item.partition("-")
        first = int(first, 16)
        last = int(last, 16) if last else first
        parts.append(f"\\x{{{first:x}}}" + (f"-\\x{{{last:x}}}" if last != first else ""))
    return "[" + "".join(parts) + "]"


_WHITESPACE_CLASS = _char_class(_WHITESPACE)
_EXTEND_CLASS = _char_class(_EXTEND)
_NOT_BASE_CLASS = _char_class(_NOT_BASE)
_VALID_UTF8 = "(?s)[\\x{0}-\\x{d7ff}\\x{e000}-\\x{10ffff}]*"


def valid_utf8(strings):
    """`strings` with each invalid UTF-8 sequence replaced by U+FFFD."""
    valid = tf.reduce_all(tf.strings.regex_full_match(strings, _VALID_UTF8))
    return tf.cond(valid, lambda: strings, lambda: tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD))


def _previous(values, first, fill):
    """values shifted right by one along a flat axis; `fill` where `first` (a row start)."""
    shifted = tf.concat([tf.fill([1], fill), values[:-1]], axis=0)
    return tf.where(first, tf.fill(tf.shape(values), fill), shifted)


def _next(values, last, fill):
    shifted = tf.concat([values[1:], tf.fill([1], fill)], axis=0)
    return tf.where(last, tf.fill(tf.shape(values), fill), shifted)


class SentencePieceUnigram(tf.Module):
    """Hugging Face's SentencePiece Unigram tokenizer (see the module docstring) in TF ops.

    Args:
        vocabulary: list of `(piece, score)` pairs in id order, as transformers builds it
            (for XLM-R: the fairseq specials first, the model's pieces shifted by one).
        unk_id: id of the unknown piece.
        charsmap: the model's precompiled character map (bytes, may be empty).
        special_tokens: dict `{token: id}` of tokens cut out of the raw text.
        replace_quotes, strip_accents, lowercase: the ALBERT/XLNet pre-normalisers.
        score_dtype: the Viterbi's arithmetic: `"float64"` as `tokenizers`, `"float32"` as
            the sentencepiece library (`bertcls.text.xlnet_pieces`).
        unk_score: the score of an unknown character (None: the lowest score minus 10).
    """

    def __init__(self, vocabulary, unk_id, charsmap=b"", special_tokens=None,
                 replace_quotes=False, strip_accents=False, lowercase=False,
                 score_dtype="float64", unk_score=None, name=None):
        super().__init__(name=name)
        self._dtype = tf.as_dtype(score_dtype)
        pieces = [p for p, _ in vocabulary]
        scores = np.asarray([s for _, s in vocabulary], np.float64)
        self.unk_id = int(unk_id)
        self.unk_score = (float(scores.min()) - UNK_PENALTY if unk_score is None
                          else float(unk_score))
        self.max_piece_chars = max(1, max(len(p) for p in pieces))
        self.replace_quotes = bool(replace_quotes)
        self.strip_accents = bool(strip_accents)
        self.lowercase = bool(lowercase)
        # tokenizers keeps the last id of a duplicated piece string.
        ids = {}
        for i, piece in enumerate(pieces):
            ids[piece] = i
        self._pieces = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(ids)), tf.constant(list(ids.values()), tf.int64)), -1)
        self._scores = tf.constant(scores, self._dtype)
        table = charsmap_table(charsmap, max_key_bytes=5) if charsmap else {}
        if not table:
            table = {"\0": "\0"}  # an empty table is not allowed; NUL maps to itself
        self._charsmap = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(table)), tf.constant(list(table.values()))), "\uffff\uffff")
        special_tokens = dict(special_tokens or {})
        self.special_tokens = special_tokens
        if special_tokens:
            import re
            names = sorted(special_tokens, key=len, reverse=True)
            self._special_pattern = "(" + "|".join(re.escape(n) for n in names) + ")"
            self._special_ids = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(special_tokens)),
                    tf.constant(list(special_tokens.values()), tf.int64)), -1)
        else:
            self._special_pattern = None

    # --- Normalisation ---------------------------------------------------------------------

    @staticmethod
    def _run_index(is_mark, first):
        """Index of each marked element within its run of marked elements (row-local)."""
        position = tf.range(tf.shape(is_mark)[0])
        run_start = is_mark & ~_previous(is_mark, first, False)
        starts = tf.where(run_start, position, -1)
        # Running maximum of run-start positions, via segment max over a cumulative index.
        latest = tf.math.segment_max(starts, tf.math.cumsum(tf.cast(run_start, tf.int32)))
        owner = tf.math.cumsum(tf.cast(run_start, tf.int32))
        return position - tf.gather(latest, owner)

    def _precompiled(self, chars, origin, first):
        """The precompiled charsmap as tokenizers applies it -> (strings, source index)."""
        n = tf.shape(chars)[0]
        position = tf.range(n)
        after_base = ~tf.strings.regex_full_match(_previous(chars, first, ""), _NOT_BASE_CLASS)
        join = tf.strings.regex_full_match(chars, _EXTEND_CLASS) & ~first & after_base
        join = join | (tf.equal(chars, "\n") & tf.equal(_previous(chars, first, ""), "\r"))
        grapheme = tf.math.cumsum(tf.cast(~join, tf.int32)) - 1
        g_start = tf.math.segment_min(position, grapheme)
        g_chars = tf.math.segment_sum(tf.ones_like(position), grapheme)
        g_bytes = tf.math.segment_sum(tf.strings.length(chars), grapheme)
        candidate = (g_chars > 1) & (g_bytes < 6)
        # Prefix of each character's grapheme up to it (graphemes here are <= 5 characters).
        prefix = chars
        for _ in range(4):
            prefix = tf.where(join, tf.strings.join([_previous(prefix, first, ""), chars]),
                              chars)
        mapped = self._charsmap.lookup(prefix)
        found = ~tf.equal(mapped, "\uffff\uffff") & tf.gather(candidate, grapheme)
        big = tf.fill(tf.shape(position), n)
        first_found = tf.math.segment_min(tf.where(found, position, big), grapheme)
        resolved = first_found < n
        in_resolved = tf.gather(resolved, grapheme)
        replacement = tf.gather(mapped, tf.minimum(first_found, n - 1))
        is_head = tf.equal(position, tf.gather(g_start, grapheme))
        single = self._charsmap.lookup(chars)
        single = tf.where(tf.equal(single, "\uffff\uffff"), chars, single)
        out = tf.where(in_resolved, tf.where(is_head, tf.gather(replacement, grapheme), ""),
                       single)
        pieces = tf.strings.unicode_split(out, "UTF-8")
        owner = tf.cast(pieces.value_rowids(), tf.int32)
        k = tf.cast(tf.ragged.range(pieces.row_lengths()).flat_values, tf.int32)
        span = tf.gather(g_chars, grapheme)
        shift = tf.where(tf.gather(in_resolved, owner),
                         tf.minimum(k, tf.gather(span, owner) - 1), 0)
        return pieces.flat_values, tf.gather(origin, owner + shift), owner

    # --- Tokenisation ----------------------------------------------------------------------

    def _text_tokens(self, texts):
        """Token ids and [start, end) character offsets of each text, ragged (n, tokens)."""
        texts = tf.convert_to_tensor(texts)
        chars = tf.strings.unicode_split(texts, "UTF-8")
        nrows = tf.shape(texts, out_type=tf.int64)[0]
        rows = chars.value_rowids()
        flat = chars.flat_values
        origin = tf.cast(tf.ragged.range(chars.row_lengths()).flat_values, tf.int32)
        first = tf.equal(origin, 0)
        if self.replace_quotes or self.strip_accents or self.lowercase:
            last = tf.equal(origin + 1, tf.cast(tf.gather(chars.row_lengths(), rows), tf.int32))
            keep_rows = rows
            if self.replace_quotes:
                flat, origin, keep_rows = self._quotes(flat, origin, first, last, rows)
            if self.strip_accents or self.lowercase:
                flat = self._accents_and_case(flat)
            split = tf.strings.unicode_split(flat, "UTF-8")
            owner = split.value_rowids()
            flat = split.flat_values
            origin = tf.gather(origin, owner)
            rows = tf.gather(keep_rows, owner)
            first = self._row_firsts(rows)
        flat, origin, owner = self._precompiled(flat, origin, first)
        rows = tf.gather(rows, owner)
        # Whitespace split and Metaspace.
        kept = ~tf.strings.regex_full_match(flat, _WHITESPACE_CLASS)
        row_first = self._row_firsts(rows)
        word_start = kept & (row_first | ~_previous(kept, row_first, False))
        flat, origin, rows, word_start = (tf.boolean_mask(x, kept)
                                          for x in (flat, origin, rows, word_start))
        flat = tf.where(word_start & ~tf.equal(flat, METASPACE),
                        tf.strings.join([METASPACE, flat]), flat)
        split = tf.strings.unicode_split(flat, "UTF-8")
        owner = split.value_rowids()
        flat = split.flat_values
        origin, rows = tf.gather(origin, owner), tf.gather(rows, owner)
        starts = tf.equal(flat, METASPACE)
        word = tf.math.cumsum(tf.cast(starts, tf.int64)) - 1
        words = tf.RaggedTensor.from_value_rowids(flat, word, validate=False)
        word_origin = tf.RaggedTensor.from_value_rowids(origin, word, validate=False)
        word_rows = tf.math.segment_min(rows, word)
        ids, begin, end = self._viterbi(words)
        token_owner = ids.value_rowids()
        offsets = word_origin.with_row_splits_dtype(tf.int64)
        base = tf.gather(offsets.row_starts(), token_owner)
        flat_origin = offsets.flat_values
        start = tf.gather(flat_origin, base + begin.flat_values)
        stop = tf.gather(flat_origin, base + end.flat_values - 1) + 1
        token_rows = tf.gather(word_rows, token_owner)

        def by_row(values):
            return tf.RaggedTensor.from_value_rowids(values, token_rows, nrows=nrows,
                                                     validate=False)

        return (by_row(ids.flat_values), by_row(tf.cast(start, tf.int64)),
                by_row(tf.cast(stop, tf.int64)))

    @staticmethod
    def _row_firsts(rows):
        return tf.concat([tf.ones([tf.minimum(tf.size(rows), 1)], tf.bool),
                          tf.not_equal(rows[1:], rows[:-1])], 0)

    def _quotes(self, flat, origin, first, last, rows):
        """tokenizers' Replace("``", '"') then Replace("''", '"'): a pair becomes one '"'
        aligned to the pair's second character."""
        drop = tf.zeros_like(first)
        for mark in ("`", "'"):
            is_mark = tf.equal(flat, mark) & ~drop
            index = self._run_index(is_mark, first)
            pair_first = is_mark & (index % 2 == 0) & _next(is_mark, last, False)
            pair_second = is_mark & (index % 2 == 1)
            flat = tf.where(pair_second, '"', flat)
            drop = drop | pair_first
        keep = ~drop
        return (tf.boolean_mask(flat, keep), tf.boolean_mask(origin, keep),
                tf.boolean_mask(rows, keep))

    def _accents_and_case(self, flat):
        nul = tf.equal(flat, "\x00")  # ICU's ops read NUL as the end of the string
        if self.strip_accents:
            flat = tf_text.normalize_utf8(flat, "NFKD")
            flat = tf.strings.regex_replace(flat, r"\p{M}", "")
        if self.lowercase:
            flat = tf.strings.lower(flat, encoding="utf-8")
        return tf.where(nul, "\x00", flat)

    def _viterbi(self, words):
        """Best segmentation of each word (ragged (words, chars)) -> ids, begin, end
        (ragged (words, tokens); begin/end are character positions in the word).

        Candidate pieces are looked up once per character (flat, not padded to the longest
        word); the dynamic programme then walks character positions for all words at once."""
        lengths = tf.cast(words.row_lengths(), tf.int32)
        starts = tf.cast(words.row_starts(), tf.int32)
        chars = words.flat_values
        count = tf.shape(lengths)[0]
        position = tf.cast(tf.ragged.range(words.row_lengths()).flat_values, tf.int32)
        first = tf.equal(position, 0)
        inf = tf.constant(-np.inf, self._dtype)
        scores, ids = [], []
        window = chars
        for size in range(1, self.max_piece_chars + 1):
            if size > 1:
                window = tf.strings.join([_previous(window, first, ""), chars])
            valid = position >= size - 1
            piece = tf.cast(self._pieces.lookup(window), tf.int32)
            ok = valid & (piece >= 0)
            score = tf.where(ok, tf.gather(self._scores, tf.maximum(piece, 0)), inf)
            if size == 1:
                unknown = piece < 0
                score = tf.where(unknown, tf.constant(self.unk_score, self._dtype), score)
                piece = tf.where(unknown, self.unk_id, piece)
            scores.append(score)
            ids.append(piece)
        # (chars, sizes), sizes from the longest down: argmax then prefers the piece that
        # starts first, as tokenizers does on a tie.
        scores = tf.stack(scores[::-1], axis=-1)
        ids = tf.stack(ids[::-1], axis=-1)
        sizes = self.max_piece_chars
        # Words longest first, so the words still running at character e are a prefix and
        # every step only touches those (the total work is the number of characters).
        order = tf.argsort(lengths, direction="DESCENDING", stable=True)
        sorted_lengths = tf.gather(lengths, order)
        sorted_starts = tf.gather(starts, order)
        width = tf.reduce_max(tf.concat([lengths, [0]], 0))
        running = tf.reduce_sum(
            tf.cast(sorted_lengths[None, :] > tf.range(width)[:, None], tf.int32), axis=1)
        init = tf.concat([tf.zeros([count, 1], self._dtype),
                          tf.fill([count, sizes - 1], inf)], axis=1)

        def step(e, window, choices):
            # window[:, k] is the best score of the word prefix ending k characters before e.
            k = running[e]
            window = window[:k]
            candidates = tf.reverse(window, axis=[1]) + tf.gather(scores, sorted_starts[:k] + e)
            best = tf.argmax(candidates, axis=1, output_type=tf.int32)
            value = tf.reduce_max(candidates, axis=1)
            window = tf.concat([value[:, None], window[:, :-1]], axis=1)
            return e + 1, window, choices.write(e, best)

        # One spare empty element after the last step, so that `concat` has something to
        # join when there are no characters (eager TensorFlow refuses an empty concat).
        choices = tf.TensorArray(tf.int32, size=width + 1, infer_shape=False,
                                 element_shape=[None]).write(width, tf.zeros([0], tf.int32))
        _, _, choices = tf.while_loop(
            lambda e, *_: e < width, step,
            (tf.constant(0), init, choices),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, sizes]),
                              tf.TensorShape(None)))
        choices = choices.concat()
        # Flat character (word w, position p) -> its entry: steps before p, then w's rank.
        rank = tf.math.invert_permutation(order)
        step_start = tf.math.cumsum(running, exclusive=True)
        word = tf.cast(words.value_rowids(), tf.int32)
        choice = tf.gather(choices, tf.gather(step_start, position) + tf.gather(rank, word))
        size_at = sizes - choice                                # piece length ending here
        id_at = tf.gather(ids, choice, batch_dims=1)

        def back(pos, base, ends):
            at = base + pos - 1
            pos = pos - tf.gather(size_at, at)
            more = pos > 0
            return tf.boolean_mask(pos, more), tf.boolean_mask(base, more), ends.write(
                ends.size(), at)

        nonempty = lengths > 0
        _, _, ends = tf.while_loop(
            lambda pos, base, ends: tf.size(pos) > 0, back,
            (tf.boolean_mask(lengths, nonempty), tf.boolean_mask(starts, nonempty),
             tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False,
                            element_shape=[None]).write(0, tf.zeros([0], tf.int32))),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]),
                              tf.TensorShape(None)))
        ends = ends.concat()
        is_end = tf.scatter_nd(ends[:, None], tf.ones_like(ends, tf.bool), tf.shape(chars))
        rows = tf.boolean_mask(word, is_end)
        end = tf.boolean_mask(position + 1, is_end)
        token_ids = tf.boolean_mask(id_at, is_end)
        begin = end - tf.boolean_mask(size_at, is_end)
        # Fuse runs of unknown pieces.
        unk = tf.equal(token_ids, self.unk_id)
        keep = ~(unk & _previous(unk, self._row_firsts(rows), False))
        group = tf.math.cumsum(tf.cast(keep, tf.int32)) - 1
        fused_begin = tf.math.segment_min(begin, group)
        fused_end = tf.math.segment_max(end, group)
        rows = tf.boolean_mask(rows, keep)
        nrows = tf.cast(count, tf.int64)

        def ragged(values):
            return tf.RaggedTensor.from_value_rowids(
                tf.cast(values, tf.int64), tf.cast(rows, tf.int64), nrows=nrows, validate=False)

        return ragged(tf.boolean_mask(token_ids, keep)), ragged(fused_begin), ragged(fused_end)

    def tokenize_with_offsets(self, strings):
        """Token ids and `[start, end)` character offsets of a rank-1 string tensor.

        Returns:
            `(ids, starts, ends)`, ragged int32 tensors of shape (batch, tokens).
        """
        strings = valid_utf8(tf.convert_to_tensor(strings))
        if self._special_pattern is None:
            ids, starts, ends = self._text_tokens(strings)
            return (tf.cast(ids, tf.int32), tf.cast(starts, tf.int32),
                    tf.cast(ends, tf.int32))
        # regex_split stops at a NUL byte: split a copy with NUL as \x01 (same byte offsets),
        # then cut the original.
        pieces, begin, end = tf_text.regex_split_with_offsets(
            tf.strings.regex_replace(strings, "\x00", "\x01"), self._special_pattern,
            self._special_pattern)
        owner = pieces.value_rowids()
        flat = tf.strings.substr(tf.gather(strings, owner), begin.flat_values,
                                 end.flat_values - begin.flat_values)
        special = tf.strings.regex_full_match(flat, self._special_pattern)
        before = tf.strings.substr(tf.gather(strings, owner), tf.zeros_like(begin.flat_values),
                                   begin.flat_values)
        char_start = tf.strings.length(before, unit="UTF8_CHAR")
        char_len = tf.strings.length(flat, unit="UTF8_CHAR")
        ids, starts, ends = self._text_tokens(tf.where(special, "", flat))
        special_id = tf.RaggedTensor.from_tensor(self._special_ids.lookup(flat)[:, None])
        special_id = tf.ragged.boolean_mask(special_id, special[:, None])
        ids = tf.concat([special_id, ids], axis=1)
        zero = tf.zeros_like(special_id)
        special_end = tf.ragged.boolean_mask(
            tf.cast(char_len, tf.int64)[:, None], special[:, None])
        shift = tf.cast(char_start, tf.int64)[:, None]
        starts = tf.concat([zero, starts], axis=1) + shift
        ends = tf.concat([special_end, ends], axis=1) + shift

        def merged(values):
            return tf.cast(pieces.with_flat_values(values).merge_dims(1, 2), tf.int32)

        return merged(ids), merged(starts), merged(ends)

    def tokenize(self, strings):
        """Token ids of a rank-1 string tensor, ragged int32 (batch, tokens)."""
        return self.tokenize_with_offsets(strings)[0]
