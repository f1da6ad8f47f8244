"""Named-entity helpers: align BIO tags to sub-tokens, decode entity spans.

Label convention (the Hugging Face one): a token's label is a tag id, or `-100` where loss and
metrics must ignore it: `[CLS]`, `[SEP]`, padding, and (for word-level tags) every sub-token
after the first of a word.

Two tag levels are supported:

- `level="char"`: one tag per character of the text (KLUE-NER). Every real token is labelled
  with the tag of its first character; an entity that starts inside a token is moved to that
  token's start (this is the only lossy case; `decode_entities` on the aligned gold tags
  measures it).
- `level="word"`: one tag per whitespace-separated word. The first sub-token of a word gets
  the word's tag, the others -100; decoding reads only first sub-tokens.
"""

import collections

import numpy as np

from bertcls.tasks.metrics import _split_tag, get_entities

IGNORE_INDEX = -100
LEVELS = ("char", "word")

NerExample = collections.namedtuple("NerExample", ["id", "text", "tags"])
Entity = collections.namedtuple("Entity", ["type", "start", "end", "text"])


def _word_spans(text):
    spans, start = [], None
    for i, ch in enumerate(text + " "):
        if ch.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
    return spans


def _token_spans(offsets):
    """(position, start, end) of the real tokens; specials and padding have start == end."""
    offsets = np.asarray(offsets)
    return [(i, int(s), int(e)) for i, (s, e) in enumerate(offsets) if e > s]


def align_tags(text, offsets, tags, tag_to_id, level="char"):
    """Token labels for one example from character- or word-level tags.

    Args:
        text: the original string.
        offsets: `(length, 2)` token `[start, end)` character spans from
            `FeatureEncoder(return_offsets=True)`; `(0, 0)` marks specials and padding.
        tags: one tag string per character (`level="char"`) or per whitespace word
            (`level="word"`).
        tag_to_id: dict tag string -> id.
        level: `"char"` or `"word"` (see the module docstring).

    Returns:
        int32 array `(length,)` of tag ids, -100 where ignored.

    Example:

    >>> offsets = [(0, 0), (0, 2), (2, 3), (4, 5), (0, 0), (0, 0)]
    >>> tag_to_id = {"O": 0, "B-OG": 1, "I-OG": 2}
    >>> align_tags("경찰은 또", offsets, ["B-OG", "I-OG", "O", "O", "O"], tag_to_id).tolist()
    [-100, 1, 0, 0, -100, -100]
    >>> align_tags("경찰은 또", offsets, ["B-OG", "O"], tag_to_id, level="word").tolist()
    [-100, 1, -100, 0, -100, -100]
    """
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {LEVELS}, received {level!r}.")
    unknown = sorted(set(tags) - set(tag_to_id))
    if unknown:
        raise ValueError(f"Tags {unknown} are not in tag_to_id (known: {sorted(tag_to_id)}).")
    offsets = np.asarray(offsets)
    labels = np.full((offsets.shape[0],), IGNORE_INDEX, np.int32)
    if level == "char":
        if len(tags) != len(text):
            raise ValueError(
                f"level='char' needs one tag per character: the text has {len(text)} "
                f"characters, received {len(tags)} tags.")
        for i, start, _ in _token_spans(offsets):
            labels[i] = tag_to_id[tags[start]]
        return labels
    words = _word_spans(text)
    if len(tags) != len(words):
        raise ValueError(
            f"level='word' needs one tag per whitespace-separated word: the text has "
            f"{len(words)} words, received {len(tags)} tags.")
    seen = set()
    for i, start, _ in _token_spans(offsets):
        word = next(w for w, (s, e) in enumerate(words) if s <= start < e)
        if word not in seen:
            seen.add(word)
            labels[i] = tag_to_id[tags[word]]
    return labels


def encode_tagged(encoder, texts, tags, tag_to_id, level="char"):
    """Encode texts and align their tags: features and labels ready for `BertTagger.fit`.

    Args:
        encoder: a `FeatureEncoder`; offsets are requested from a copy if it has
            `return_offsets=False`.
        texts: list of strings.
        tags: list of tag lists (per character or per word, see `level`).
        tag_to_id: dict tag string -> id.
        level: `"char"` or `"word"`.

    Returns:
        `(features, labels)`: dict of int32 numpy arrays (`input_ids`, `attention_mask`,
        `token_type_ids`) and int32 labels `(batch, length)` with -100 where ignored.

    Example:

    >>> from bertcls import FeatureEncoder
    >>> encoder = FeatureEncoder(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "kim", "went", "home"],
    ...                          max_seq_len=6)
    >>> tag_to_id = {"O": 0, "B-PS": 1, "I-PS": 2}
    >>> features, labels = encode_tagged(encoder, ["kim went home"], [["B-PS", "O", "O"]],
    ...                                  tag_to_id, level="word")
    >>> features["input_ids"].tolist(), labels.tolist()
    ([[2, 4, 5, 6, 3, 0]], [[-100, 1, 0, 0, -100, -100]])
    """
    if len(texts) != len(tags):
        raise ValueError(
            f"texts and tags must have the same length, received {len(texts)} texts and "
            f"{len(tags)} tag lists.")
    encoder = with_offsets(encoder)
    encoded = {k: np.asarray(v) for k, v in encoder(list(texts)).items()}
    offsets = encoded.pop("offsets")
    labels = np.stack([align_tags(text, o, t, tag_to_id, level)
                       for text, o, t in zip(texts, offsets, tags)]) if len(texts) else \
        np.zeros((0, offsets.shape[1]), np.int32)
    return encoded, labels


def with_offsets(encoder, **overrides):
    """`encoder` itself if it already returns offsets (and matches overrides), else a copy."""
    config = encoder.get_config()
    wanted = dict(overrides, return_offsets=True)
    if all(config.get(k) == v for k, v in wanted.items()):
        return encoder
    config.update(wanted)
    return type(encoder).from_config(config)


def decode_entities(text, offsets, token_tags, level="char"):
    """Entity spans over the original text from per-token predicted tags.

    Tokens (or, for `level="word"`, words read from their first sub-token) are grouped
    with strict IOB2 (an entity starts at `B-X` and continues over `I-X`); an entity spans
    from its first unit's start to its last unit's end, so spaces inside it are included.

    Args:
        text: the original string.
        offsets: `(length, 2)` token spans from the encoder.
        token_tags: one tag string per token position (values at special/padding positions
            are not read).
        level: `"char"` or `"word"`, as used in training.

    Returns:
        list of `Entity(type, start, end, text)`, `end` exclusive.

    Example:

    >>> offsets = [(0, 0), (0, 2), (2, 3), (4, 5), (0, 0)]
    >>> decode_entities("경찰은 또", offsets, ["O", "B-OG", "O", "O", "O"])
    [Entity(type='OG', start=0, end=2, text='경찰')]
    """
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {LEVELS}, received {level!r}.")
    offsets = np.asarray(offsets)
    if len(token_tags) != offsets.shape[0]:
        raise ValueError(
            f"token_tags must have one tag per token position ({offsets.shape[0]}), received "
            f"{len(token_tags)}.")
    units = []  # (start, end, tag)
    if level == "char":
        units = [(s, e, token_tags[i]) for i, s, e in _token_spans(offsets)]
    else:
        words = _word_spans(text)
        last_word = None
        for i, s, e in _token_spans(offsets):
            word = next((w for w, (ws, we) in enumerate(words) if ws <= s < we), None)
            if word is None:
                continue
            if word != last_word:
                units.append([words[word][0], words[word][1], token_tags[i]])
                last_word = word
    for _, _, tag in units:
        _split_tag(tag)
    entities = []
    for kind, first, last in get_entities([u[2] for u in units]):
        start, end = units[first][0], units[last - 1][1]
        entities.append(Entity(kind, start, end, text[start:end]))
    return entities


def entities_to_char_tags(entities, length):
    """Per-character IOB2 tags from entity spans (the inverse of reading spans off tags).

    Example:

    >>> entities_to_char_tags([Entity("OG", 0, 2, "경찰")], 4)
    ['B-OG', 'I-OG', 'O', 'O']
    """
    tags = ["O"] * length
    for entity in entities:
        if not 0 <= entity.start < entity.end <= length:
            raise ValueError(
                f"Entity span [{entity.start}, {entity.end}) lies outside a text of {length} "
                f"characters.")
        tags[entity.start] = "B-" + entity.type
        for i in range(entity.start + 1, entity.end):
            tags[i] = "I-" + entity.type
    return tags
