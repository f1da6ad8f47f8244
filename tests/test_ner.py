"""KLUE-NER reading, tag alignment over encoder offsets, and entity decoding."""

import numpy as np
import pytest

from bertcls import (Entity, FeatureEncoder, align_tags, decode_entities, encode_tagged,
                     entities_to_char_tags, entity_scores, get_entities, read_klue_ner,
                     train_vocabulary)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def klue(klue_ner_dir):
    return read_klue_ner(klue_ner_dir / "klue-ner-v1.1_dev.tsv")


def test_read_klue_ner(klue):
    assert len(klue) == 5000
    assert all(len(e.text) == len(e.tags) for e in klue)
    first = klue[0]
    assert first.id.startswith("klue-ner-v1_dev_00000")
    assert first.text.startswith("경찰은 또 성매매")
    assert first.tags[:3] == ["B-OG", "I-OG", "O"]
    assert any(" " in e.text for e in klue)  # spaces are characters


def test_read_rejects_bad_lines(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("## s\n경\tB-OG\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:3: expected 'CHAR<TAB>TAG'"):
        read_klue_ner(path)


def char_vocab(texts):
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    return SPECIALS + chars + ["##" + c for c in chars]


@pytest.mark.parametrize("max_seq_len", [512, 24])
def test_klue_char_alignment_round_trip(klue, max_seq_len):
    """Gold tags aligned to tokens and decoded back give the gold entities (a per-character
    vocabulary makes every character a token, so nothing is lost except beyond truncation)."""
    examples = klue[:300]
    texts = [e.text for e in examples]
    tags = sorted({t for e in examples for t in e.tags})
    tag_to_id = {t: i for i, t in enumerate(tags)}
    encoder = FeatureEncoder(char_vocab(texts), max_seq_len=max_seq_len, padding="longest")
    features, labels = encode_tagged(encoder, texts, [e.tags for e in examples], tag_to_id)
    assert labels.shape == features["input_ids"].shape
    assert np.all(labels[features["attention_mask"] == 0] == -100)
    assert np.all(labels[:, 0] == -100)
    offsets = np.asarray(FeatureEncoder(char_vocab(texts), max_seq_len=max_seq_len,
                                        padding="longest", return_offsets=True)(texts)["offsets"])
    y_true, y_pred = [], []
    for example, offs, row in zip(examples, offsets, labels):
        names = [tags[i] if i >= 0 else "O" for i in row]
        entities = decode_entities(example.text, offs, names)
        for entity in entities:
            assert example.text[entity.start:entity.end] == entity.text
        covered = int(offs[:, 1].max())
        gold = [t if i < covered else "O" for i, t in enumerate(example.tags)]
        y_true.append(gold)
        y_pred.append(entities_to_char_tags(entities, len(example.text)))
    assert entity_scores(y_true, y_pred)["f1"] == 1.0


def test_klue_round_trip_with_a_wordpiece_vocabulary(klue):
    """With real sub-words, exactly the gold entities whose boundaries are token boundaries
    survive align -> decode; the others are the known loss of first-character alignment."""
    examples = klue[:400]
    texts = [e.text for e in examples]
    vocab = train_vocabulary(texts, vocabulary_size=2000)
    tags = sorted({t for e in examples for t in e.tags})
    tag_to_id = {t: i for i, t in enumerate(tags)}
    encoder = FeatureEncoder(vocab, max_seq_len=512, padding="longest", return_offsets=True)
    _, labels = encode_tagged(encoder, texts, [e.tags for e in examples], tag_to_id)
    offsets = np.asarray(encoder(texts)["offsets"])
    kept = lost = 0
    for example, offs, row in zip(examples, offsets, labels):
        decoded = decode_entities(example.text, offs, [tags[i] if i >= 0 else "O" for i in row])
        decoded = {(e.type, e.start, e.end) for e in decoded}
        spans = [(int(a), int(b)) for a, b in offs if b > a]
        starts, ends = {a for a, _ in spans}, {b for _, b in spans}
        for kind, start, end in get_entities(example.tags):
            aligned = start in starts and end in ends
            assert ((kind, start, end) in decoded) == aligned
            kept, lost = kept + aligned, lost + (not aligned)
    assert kept > 0 and lost > 0


def test_char_alignment_takes_first_character_of_multi_char_tokens():
    vocab = SPECIALS + ["경찰", "##은", "또"]
    encoder = FeatureEncoder(vocab, max_seq_len=8, return_offsets=True)
    offsets = encoder(["경찰은 또"])["offsets"][0]
    tag_to_id = {"O": 0, "B-OG": 1, "I-OG": 2}
    labels = align_tags("경찰은 또", offsets, ["B-OG", "I-OG", "O", "O", "O"], tag_to_id)
    assert labels.tolist() == [-100, 1, 0, 0, -100, -100, -100, -100]
    entities = decode_entities("경찰은 또", offsets, ["O", "B-OG", "O", "O"] + ["O"] * 4)
    assert entities == [Entity("OG", 0, 2, "경찰")]


def test_word_level_alignment_and_decoding():
    vocab = SPECIALS + ["new", "york", "is", "big", "##ger", "."]
    encoder = FeatureEncoder(vocab, lowercase=True, max_seq_len=12, return_offsets=True)
    text = "New York is bigger ."
    offsets = np.asarray(encoder([text])["offsets"][0])
    tag_to_id = {"O": 0, "B-LC": 1, "I-LC": 2}
    labels = align_tags(text, offsets, ["B-LC", "I-LC", "O", "O", "O"], tag_to_id, "word")
    # [CLS] new york is big ##ger . [SEP]: the second sub-token of "bigger" is ignored.
    assert labels[:8].tolist() == [-100, 1, 2, 0, 0, -100, 0, -100]
    # Predictions at non-first sub-tokens are not read.
    predicted = ["O", "B-LC", "I-LC", "O", "O", "B-LC", "O", "O"] + ["O"] * 4
    assert decode_entities(text, offsets, predicted, level="word") == [
        Entity("LC", 0, 8, "New York")]


def test_entities_span_spaces_inside():
    text = "2016년 8월"
    offsets = [(0, 0), (0, 5), (6, 8), (0, 0)]
    assert decode_entities(text, offsets, ["O", "B-DT", "I-DT", "O"]) == [
        Entity("DT", 0, 8, "2016년 8월")]
    assert entities_to_char_tags([Entity("DT", 0, 8, text)], 8) == (
        ["B-DT"] + ["I-DT"] * 7)
    assert get_entities(entities_to_char_tags([Entity("DT", 0, 8, text)], 8)) == [("DT", 0, 8)]


@pytest.mark.parametrize("call, message", [
    (lambda: align_tags("ab", [(0, 1)], ["O", "O"], {"O": 0}, level="token"), "level"),
    (lambda: align_tags("ab", [(0, 1)], ["O", "X"], {"O": 0}), "not in tag_to_id"),
    (lambda: align_tags("ab", [(0, 1)], ["O"], {"O": 0}), "one tag per character"),
    (lambda: align_tags("a b", [(0, 1)], ["O"], {"O": 0}, "word"), "one tag per whitespace"),
    (lambda: decode_entities("ab", [(0, 1)], ["O"], level="x"), "level"),
    (lambda: decode_entities("ab", [(0, 1)], ["O", "O"]), "one tag per token"),
    (lambda: decode_entities("ab", [(0, 1)], ["Z"]), "IOB2"),
    (lambda: entities_to_char_tags([Entity("X", 0, 5, "")], 3), "outside"),
    (lambda: encode_tagged(None, ["a"], [], {}), "same length"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
