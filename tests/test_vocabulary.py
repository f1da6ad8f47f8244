import pytest
from transformers import BertTokenizer

from bertcls.text.vocabulary import SPECIAL_TOKENS, save_vocabulary, train_vocabulary

TEXTS = ["재미있는 영화였어요", "재미없는 영화", "배우 연기가 좋다", "Great MOVIE, great cast!"] * 20


def test_specials_first_and_pieces_learned():
    vocab = train_vocabulary(TEXTS, vocabulary_size=200)
    assert tuple(vocab[:5]) == SPECIAL_TOKENS
    assert len(vocab) == len(set(vocab)) <= 200
    assert any(t.startswith("##") for t in vocab)


def test_lowercase_vocabulary_has_no_capitals():
    vocab = train_vocabulary(TEXTS, vocabulary_size=200, lowercase=True)
    assert not any(ch.isupper() for t in vocab[5:] for ch in t)


def test_saved_vocabulary_loads_in_transformers(tmp_path):
    vocab = train_vocabulary(TEXTS, vocabulary_size=200)
    save_vocabulary(vocab, tmp_path)
    tok = BertTokenizer.from_pretrained(str(tmp_path))
    ids = tok("재미있는 영화였어요")["input_ids"]
    assert ids[0] == vocab.index("[CLS]") and ids[-1] == vocab.index("[SEP]")
    assert vocab.index("[UNK]") not in ids


@pytest.mark.parametrize("texts,match", [([], "no text"), (["  ", ""], "no text"),
                                         (["ok", 3], "item 1 is a int")])
def test_bad_input(texts, match):
    with pytest.raises(ValueError, match=match):
        train_vocabulary(texts)
