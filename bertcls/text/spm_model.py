"""Reading SentencePiece `.model` files without the `sentencepiece` package.

A `.model` is a protocol buffer (`ModelProto` of sentencepiece_model.proto). `read_model` decodes
the few fields bertcls needs with a small wire-format reader that checks every length, so a
truncated or foreign file is a `ValueError` naming the file rather than a crash inside a C++
op. `charsmap_table` unpacks the normaliser's precompiled character map (a darts-clone double
array trie of UTF-8 keys and NUL-terminated replacements) into a plain dict.
"""

import dataclasses
import struct

import numpy as np

# SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
# TrainerSpec.ModelType
MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


@dataclasses.dataclass
class SpmModel:
    """The parts of a SentencePiece model that tokenisation needs."""
    pieces: list          # piece strings, by id
    scores: list          # float32 scores, by id
    types: list           # SentencePiece.Type, by id
    model_type: str       # "unigram", "bpe", "word" or "char"
    byte_fallback: bool
    charsmap: bytes       # normalizer_spec.precompiled_charsmap (may be empty)
    add_dummy_prefix: bool
    remove_extra_whitespaces: bool
    normalizer_name: str

    @property
    def unk_id(self):
        return self.types.index(UNKNOWN)


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data):
    """(field number, wire type, value) of one message; values are ints or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            if pos + 8 > len(data):
                raise ValueError("truncated fixed64")
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError(f"field {number} runs past the end of the data")
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            if pos + 4 > len(data):
                raise ValueError("truncated fixed32")
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if number == 0:
            raise ValueError("field number 0")
        yield number, wire, value


def read_model(data, name="<bytes>"):
    """Decode a SentencePiece model proto.

    Args:
        data: the bytes of a `.model` file.
        name: what to call the file in error messages.

    Returns:
        An `SpmModel`.

    Raises:
        ValueError: the bytes are not a usable SentencePiece model.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"A SentencePiece model is bytes, received {type(data).__name__}.")
    data = bytes(data)
    pieces, scores, types = [], [], []
    model_type, byte_fallback = 1, False
    charsmap, add_dummy_prefix, remove_extra, norm_name = b"", True, True, ""
    try:
        for number, wire, value in _fields(data):
            if number == 1 and wire == 2:
                piece, score, kind = None, 0.0, NORMAL
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        piece = v.decode("utf-8")
                    elif n == 2 and w == 5:
                        score = struct.unpack("<f", v)[0]
                    elif n == 3 and w == 0:
                        kind = v
                if piece is None:
                    raise ValueError(f"piece {len(pieces)} has no text")
                pieces.append(piece)
                scores.append(score)
                types.append(kind)
            elif number == 2 and wire == 2:
                for n, w, v in _fields(value):
                    if n == 3 and w == 0:
                        model_type = v
                    elif n == 35 and w == 0:
                        byte_fallback = bool(v)
            elif number == 3 and wire == 2:
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        norm_name = v.decode("utf-8", "replace")
                    elif n == 2 and w == 2:
                        charsmap = v
                    elif n == 3 and w == 0:
                        add_dummy_prefix = bool(v)
                    elif n == 4 and w == 0:
                        remove_extra = bool(v)
            elif wire not in (0, 1, 2, 5):
                raise ValueError(f"unexpected field {number}")
    except (ValueError, UnicodeDecodeError, struct.error) as e:
        raise ValueError(
            f"{name} is not a valid SentencePiece model ({e}); expected the .model file "
            f"written by sentencepiece's trainer (sentencepiece.bpe.model, spiece.model, "
            f"tokenizer.model).") from None
    if not pieces:
        raise ValueError(f"{name} is not a SentencePiece model: it holds no pieces.")
    if types.count(UNKNOWN) != 1:
        raise ValueError(
            f"{name} is not a usable SentencePiece model: it has {types.count(UNKNOWN)} "
            f"unknown pieces, exactly one is required.")
    if model_type not in MODEL_TYPES:
        raise ValueError(f"{name} has an unknown SentencePiece model type {model_type}.")
    model = SpmModel(pieces, scores, types, MODEL_TYPES[model_type], byte_fallback, charsmap,
                     add_dummy_prefix, remove_extra, norm_name)
    if charsmap:
        try:
            charsmap_table(charsmap, max_key_bytes=5)
        except ValueError as e:
            raise ValueError(f"{name} has a corrupt normalisation map: {e}") from None
    return model


def charsmap_table(blob, max_key_bytes=None):
    """The precompiled charsmap as a dict {source string: replacement string}.

    Args:
        blob: `normalizer_spec.precompiled_charsmap`.
        max_key_bytes: keep only keys of at most this many UTF-8 bytes (the walk is cut there,
            which keeps it fast: nmt_nfkc holds ~200,000 Hangul jamo sequences of 6-9 bytes).

    Raises:
        ValueError: the blob is not a well-formed precompiled charsmap.
    """
    if len(blob) < 4:
        raise ValueError("charsmap shorter than its header")
    (trie_size,) = struct.unpack("<I", blob[:4])
    if trie_size % 4 or 4 + trie_size > len(blob) or trie_size == 0:
        raise ValueError(f"charsmap trie size {trie_size} does not fit in {len(blob)} bytes")
    units = np.frombuffer(blob[4:4 + trie_size], dtype="<u4").astype(np.int64)
    strings = blob[4 + trie_size:]
    size = len(units)
    labels = units & ((1 << 31) | 0xFF)
    offsets = (units >> 10) << ((units & (1 << 9)) >> 6)
    has_leaf = (units >> 8) & 1
    values = units & ((1 << 31) - 1)
    table = {}
    bytes_range = np.arange(1, 256, dtype=np.int64)
    stack = [(int(offsets[0]), b"")]
    seen = 0
    # darts-clone shares common suffixes, so the trie is a DAG: walk every path, with bounds
    # that stop a crafted cyclic file.
    while stack:
        node, prefix = stack.pop()
        seen += 1
        if seen > 4_000_000 or len(prefix) > 256:
            raise ValueError("charsmap trie has a cycle or is implausibly large")
        children = node ^ bytes_range
        ok = children < size
        children, labels_ok = children[ok], bytes_range[ok]
        match = labels[children] == labels_ok
        for child, byte in zip(children[match].tolist(), labels_ok[match].tolist()):
            key = prefix + bytes([byte])
            nxt = child ^ int(offsets[child])
            if nxt >= size:
                raise ValueError("charsmap trie points outside itself")
            if has_leaf[child]:
                start = int(values[nxt])
                end = strings.find(b"\0", start)
                if start >= len(strings) or end < 0:
                    raise ValueError("charsmap replacement outside the string table")
                try:
                    table[key.decode("utf-8")] = strings[start:end].decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError("charsmap holds invalid UTF-8") from None
            if max_key_bytes is None or len(key) < max_key_bytes:
                stack.append((nxt, key))
    return table


def _field(number, wire, payload):
    key = _encode_varint(number << 3 | wire)
    if wire == 2:
        return key + _encode_varint(len(payload)) + payload
    return key + payload


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def write_model(pieces, model_type="unigram", charsmap=b""):
    """Bytes of a minimal SentencePiece model (for examples and tests).

    Args:
        pieces: list of `(piece, score, type)`; types are `NORMAL`, `UNKNOWN`, `CONTROL`, ...
        model_type: "unigram" or "bpe".
        charsmap: a precompiled normalisation map (empty: no normalisation).

    Example:

    >>> data = write_model([("<unk>", 0.0, UNKNOWN), ("\u2581a", -1.0, NORMAL)])
    >>> read_model(data).pieces
    ['<unk>', '▁a']
    """
    out = b""
    for piece, score, kind in pieces:
        body = (_field(1, 2, piece.encode("utf-8")) + _field(2, 5, struct.pack("<f", score))
                + _field(3, 0, _encode_varint(kind)))
        out += _field(1, 2, body)
    types = {v: k for k, v in MODEL_TYPES.items()}
    out += _field(2, 2, _field(3, 0, _encode_varint(types[model_type])))
    normalizer = _field(1, 2, b"identity") + _field(3, 0, b"\x01") + _field(4, 0, b"\x01")
    if charsmap:
        normalizer += _field(2, 2, charsmap)
    return out + _field(3, 2, normalizer)
