"""Retrieve, then read: PassageIndex (embedding, search, .npz round trip) and RetrieveThenRead's
combination of span and "no answer" scores across passages (stub embedder and reader with
known scores), plus one run with real tiny models."""

import numpy as np
import pytest

from bertcls import (Answer, BertBackbone, BertQuestionAnswerer, FeatureEncoder, OpenAnswer,
                     PassageIndex, RetrieveThenRead, SentenceEmbedder)

PASSAGES = ["세종대왕은 1443년 훈민정음을 창제하였다.", "이순신은 1598년 노량에서 전사하였다.",
            "서울은 한국의 수도이다.", "부산은 항구 도시이다."]


class StubEmbedder:
    """Texts -> fixed vectors: a question about passage i points at passage i (and a little
    at i + 1)."""

    def embed(self, texts, batch_size=32):
        out = np.zeros((len(texts), len(PASSAGES)), np.float32)
        for row, text in enumerate(texts):
            i = int(text[1]) if text.startswith("q") else PASSAGES.index(text)
            out[row, i] = 1.0
            if text.startswith("q"):
                out[row, (i + 1) % len(PASSAGES)] = 0.5
        return out


class StubReader:
    """Answers with given (span score, null score) per passage; the span is the passage's
    first word."""

    def __init__(self, scores, null_threshold=None):
        self.scores, self.null_threshold = scores, null_threshold
        self.calls = []

    def _answers(self, questions, contexts, batch_size, null_threshold):
        self.calls.append((list(questions), list(contexts), null_threshold))
        out = []
        for context in contexts:
            span, null = self.scores[PASSAGES.index(context)]
            word = context.split()[0]
            out.append(Answer(word, 0, len(word), span, null))
        return out


def test_index_round_trip_keeps_text_titles_and_embeddings(tmp_path):
    passages = PASSAGES + ["", "emoji 🙂 and\nnewline", "세종대왕은 1443년 훈민정음을 창제하였다."]
    embeddings = np.random.default_rng(0).normal(size=(len(passages), 5))
    index = PassageIndex(passages, embeddings, titles=[f"t{i}" for i in range(len(passages))])
    loaded = PassageIndex.load(index.save(str(tmp_path / "sub" / "corpus.npz")))
    assert loaded.passages == passages and loaded.titles == index.titles
    np.testing.assert_array_equal(loaded.embeddings, embeddings.astype(np.float32))
    assert PassageIndex.load(PassageIndex(passages, embeddings).save(
        str(tmp_path / "plain.npz"))).titles is None
    hits = loaded.search(embeddings[[2]], top_k=3)
    assert hits["indices"][0, 0] == 2 and hits["indices"].shape == (1, 3)


def test_index_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"`embeddings` must have shape \(2, dim\).*\(3, 4\)"):
        PassageIndex(["a", "b"], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="`passages` must be a list of strings, received a "
                                         "single string"):
        PassageIndex("ab", np.zeros((2, 4)))
    with pytest.raises(ValueError, match="1 titles for 2 passages"):
        PassageIndex(["a", "b"], np.zeros((2, 4)), titles=["t"])
    with pytest.raises(ValueError, match="NaN or infinite"):
        PassageIndex(["a"], [[np.nan]])
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a PassageIndex file"):
        PassageIndex.load(str(tmp_path / "other.npz"))


def test_scores_combine_across_passages():
    index = PassageIndex.build(StubEmbedder(), PASSAGES)
    # Passage 1 has the best span (9.0); passage 2 the smallest null score (1.0).
    reader = StubReader({0: (3.0, 8.0), 1: (9.0, 4.0), 2: (5.0, 1.0), 3: (2.0, 6.0)})
    qa = RetrieveThenRead(StubEmbedder(), reader, index, top_k=2)
    first, second = qa.answer(["q1 이순신?", "q3 부산?"])
    # q1 retrieves passages 1 (cosine 1/sqrt(1.25)) and 2; q3 retrieves 3 and 0.
    assert reader.calls[0][1] == [PASSAGES[1], PASSAGES[2], PASSAGES[3], PASSAGES[0]]
    assert reader.calls[0][2] is None  # read without a threshold; decided here
    assert first == OpenAnswer("이순신은", 1, 0, 4, 9.0, 1.0, pytest.approx(1 / 1.25 ** 0.5))
    # q3: the better span is in the second passage retrieved (0: 3.0 > 2.0), the smaller
    # null score in the first (3: 6.0 < 8.0).
    assert (second.text, second.passage, second.score, second.null_score) == \
        ("세종대왕은", 0, 3.0, 6.0)
    # The reader's threshold is used by default: q3's margin 6 - 3 = 3 > 2 -> no answer ...
    reader.null_threshold = 2.0
    first, second = qa.answer(["q1 이순신?", "q3 부산?"])
    assert first.text == "이순신은" and (second.text, second.start, second.end) == ("", 0, 0)
    assert second.passage == 0 and second.score == 3.0
    # ... unless overridden.
    always = RetrieveThenRead(StubEmbedder(), reader, index, top_k=2, null_threshold=None)
    assert always.answer(["q3 부산?"])[0].text == "세종대왕은"
    never = RetrieveThenRead(StubEmbedder(), reader, index, top_k=2, null_threshold=-100.0)
    assert never.answer(["q1 이순신?"])[0].text == ""
    assert qa.answer([]) == []


def test_constructor_errors():
    index = PassageIndex(["a"], [[1.0]])
    with pytest.raises(ValueError, match="`top_k` must be a positive integer, received 0"):
        RetrieveThenRead(StubEmbedder(), StubReader({}), index, top_k=0)
    with pytest.raises(ValueError, match="`index` must be a PassageIndex, received list"):
        RetrieveThenRead(StubEmbedder(), StubReader({}), ["a"])
    with pytest.raises(ValueError, match="`null_threshold` must be None"):
        RetrieveThenRead(StubEmbedder(), StubReader({}), index, null_threshold="auto")
    with pytest.raises(ValueError, match="`questions` must be a list of strings"):
        RetrieveThenRead(StubEmbedder(), StubReader({}), index).answer("q0")


def test_with_real_tiny_models():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "lee", "seoul", "busan", "went"]

    def backbone():
        return BertBackbone(vocabulary_size=len(vocab), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)

    embedder = SentenceEmbedder(backbone(), encoder=FeatureEncoder(vocab, max_seq_len=8))
    reader = BertQuestionAnswerer(backbone(), encoder=FeatureEncoder(vocab, max_seq_len=8),
                                  doc_stride=1, max_question_len=2)
    passages = ["kim went seoul", "lee went busan went seoul kim", "seoul"]
    index = PassageIndex.build(embedder, passages)
    qa = RetrieveThenRead(embedder, reader, index, top_k=3)
    answers = qa.answer(["who seoul", "who busan"])
    indices, _ = qa.retrieve(["who seoul", "who busan"])
    for answer, retrieved in zip(answers, indices):
        assert answer.passage in retrieved.tolist()
        assert passages[answer.passage][answer.start:answer.end] == answer.text != ""
        # The combined scores are those of the reader on that (question, passage) pair.
    single = reader.predict_answers(["who seoul"], [passages[answers[0].passage]])[0]
    assert answers[0].score == pytest.approx(single.score, abs=1e-5)
