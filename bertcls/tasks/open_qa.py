"""Question answering over a corpus: retrieve, then read. A `SentenceEmbedder` finds the
passages closest to a question (`PassageIndex`, embedded once and saved as `.npz`), a
`BertQuestionAnswerer` reads each of them, and the span and "no answer" scores are combined
across the passages (`RetrieveThenRead`)."""

import collections
import os

import numpy as np

from bertcls.tasks.qa_answers import check_null_threshold
from bertcls.tasks.similarity import semantic_search
from bertcls.text.inputs import string_list

OpenAnswer = collections.namedtuple(
    "OpenAnswer", ["text", "passage", "start", "end", "score", "null_score", "retrieval_score"])
OpenAnswer.__doc__ = """An answer found in a corpus: `text == passages[passage][start:end]`;
`score` is the best span's start + end logit over the passages read, `null_score` the
smallest "no answer" (`[CLS]`) score over them, `retrieval_score` the cosine similarity of
the question and the passage. "No answer" is `text == ""`, `start == end == 0`, with
`passage` still the passage of the best span (or -1 when no passage had one).

>>> OpenAnswer("1443년", 3, 6, 11, 7.5, 1.0, 0.62).passage
3
"""


class PassageIndex:
    """Passages and their embeddings: a corpus embedded once by a `SentenceEmbedder`, searched
    for every question, saved to and loaded from one `.npz` file (numpy arrays only, read
    without pickle).

    Args:
        passages: list of passage strings.
        embeddings: float `(len(passages), dim)`, the passages' embeddings.
        titles: optional list of one title per passage (kept and saved, not searched).

    Example:

    >>> import os, tempfile
    >>> index = PassageIndex(["세종대왕은 1443년", "이순신은 1598년"], [[1.0, 0.0], [0.0, 1.0]])
    >>> index.search([[0.9, 0.1]], top_k=1)["indices"].tolist()
    [[0]]
    >>> path = index.save(os.path.join(tempfile.mkdtemp(), "corpus.npz"))
    >>> PassageIndex.load(path).passages
    ['세종대왕은 1443년', '이순신은 1598년']
    """

    def __init__(self, passages, embeddings, titles=None):
        self.passages = string_list(passages, "passages")
        embeddings = np.asarray(embeddings, np.float32)
        if embeddings.ndim != 2 or len(embeddings) != len(self.passages):
            raise ValueError(f"`embeddings` must have shape ({len(self.passages)}, dim), one row "
                             f"per passage, received {embeddings.shape}.")
        if not np.all(np.isfinite(embeddings)):
            raise ValueError("`embeddings` must be finite, received NaN or infinite values.")
        self.embeddings = embeddings
        self.titles = None if titles is None else string_list(titles, "titles")
        if self.titles is not None and len(self.titles) != len(self.passages):
            raise ValueError(f"Got {len(self.titles)} titles for {len(self.passages)} "
                             f"passages.")

    @classmethod
    def build(cls, embedder, passages, titles=None, batch_size=32):
        """Embed `passages` with `embedder` (a `SentenceEmbedder`); duplicates are kept.

        Example:

        >>> from bertcls import BertBackbone, FeatureEncoder, SentenceEmbedder
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "kim", "lee", "seoul", "busan"]
        >>> embedder = SentenceEmbedder(
        ...     BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2, hidden_size=8,
        ...                  intermediate_size=16), encoder=FeatureEncoder(vocab, max_seq_len=8))
        >>> PassageIndex.build(embedder, ["kim seoul", "lee busan"]).embeddings.shape
        (2, 8)
        """
        passages = string_list(passages, "passages")
        return cls(passages, embedder.embed(passages, batch_size=batch_size), titles)

    def __len__(self):
        return len(self.passages)

    def search(self, query_embeddings, top_k=5):
        """`bertcls.semantic_search` of query embeddings `(q, dim)` over the passages: dict
        of `indices` and `scores` `(q, min(top_k, len(self)))`, best first."""
        return semantic_search(query_embeddings, self.embeddings, top_k=top_k)

    def save(self, path):
        """Write the index to `path` (`.npz`): embeddings, passages (and titles) as UTF-8
        bytes with offsets. Returns `path`."""
        arrays = {"embeddings": self.embeddings}
        arrays["passage_bytes"], arrays["passage_offsets"] = _pack(self.passages)
        if self.titles is not None:
            arrays["title_bytes"], arrays["title_offsets"] = _pack(self.titles)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read an index written by `save` (no pickle)."""
        with np.load(path, allow_pickle=False) as data:
            missing = {"embeddings", "passage_bytes", "passage_offsets"} - set(data.files)
            if missing:
                raise ValueError(f"{path} is not a PassageIndex file: no {sorted(missing)}.")
            passages = _unpack(data["passage_bytes"], data["passage_offsets"])
            titles = (_unpack(data["title_bytes"], data["title_offsets"])
                      if "title_bytes" in data.files else None)
            return cls(passages, data["embeddings"], titles)


class RetrieveThenRead:
    """Answers from a corpus: for each question, the `top_k` passages closest to it by
    `embedder` (cosine similarity in `index`), each read by `reader`, the answers combined.

    Combining is what the reader does across the windows of one long context (Hugging Face's
    `utils_qa`), with passages in place of windows: the answer is the span with the highest
    start + end logit over all the passages read, the "no answer" score is the smallest
    `[CLS]` score over them (the question counts as answerable when any passage answers it),
    and with a `null_threshold` the answer is "no answer" when
    `null_score - score > null_threshold`. The retrieval score is reported, not mixed in.

    Args:
        embedder: a `SentenceEmbedder` (the one `index` was built with).
        reader: a `BertQuestionAnswerer`.
        index: a `PassageIndex`.
        top_k: passages read per question.
        null_threshold: `"reader"` (the default: the reader's own `null_threshold`, saved
            with it), None (always a span), or a number.

    Example:

    >>> from bertcls import (BertBackbone, BertQuestionAnswerer, FeatureEncoder,
    ...                      SentenceEmbedder)
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "lee", "seoul", "busan"]
    >>> def backbone():
    ...     return BertBackbone(vocabulary_size=9, num_layers=1, num_heads=2, hidden_size=8,
    ...                         intermediate_size=16)
    >>> embedder = SentenceEmbedder(backbone(), encoder=FeatureEncoder(vocab, max_seq_len=8))
    >>> reader = BertQuestionAnswerer(backbone(), encoder=FeatureEncoder(vocab, max_seq_len=8),
    ...                               doc_stride=1, max_question_len=2)
    >>> index = PassageIndex.build(embedder, ["kim seoul", "lee busan", "kim busan"])
    >>> qa = RetrieveThenRead(embedder, reader, index, top_k=2)
    >>> answer = qa.answer(["who seoul"])[0]
    >>> answer.text in index.passages[answer.passage]
    True
    """

    def __init__(self, embedder, reader, index, top_k=5, null_threshold="reader"):
        if not isinstance(index, PassageIndex):
            raise ValueError(f"`index` must be a PassageIndex, received "
                             f"{type(index).__name__}.")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"`top_k` must be a positive integer, received {top_k!r}.")
        if null_threshold != "reader":
            null_threshold = check_null_threshold(null_threshold)
        self.embedder, self.reader, self.index = embedder, reader, index
        self.top_k, self.null_threshold = top_k, null_threshold

    def retrieve(self, questions, batch_size=32):
        """`(indices, scores)`: the `top_k` passages of each question, best first."""
        questions = string_list(questions, "questions")
        hits = self.index.search(self.embedder.embed(questions, batch_size=batch_size),
                                 top_k=self.top_k)
        return hits["indices"], hits["scores"]

    def answer(self, questions, batch_size=32):
        """The `OpenAnswer` of each question (a list of strings) from the corpus."""
        questions = string_list(questions, "questions")
        if not questions:
            return []
        indices, similarities = self.retrieve(questions, batch_size)
        k = indices.shape[1]
        pairs_q = [q for q in questions for _ in range(k)]
        pairs_p = [self.index.passages[i] for i in indices.reshape(-1)]
        read = self.reader._answers(pairs_q, pairs_p, batch_size, None)
        threshold = (self.reader.null_threshold if self.null_threshold == "reader"
                     else self.null_threshold)
        out = []
        for q in range(len(questions)):
            candidates = read[q * k:(q + 1) * k]
            best = int(np.argmax([a.score for a in candidates]))
            span = candidates[best]
            nulls = [a.null_score for a in candidates if not np.isnan(a.null_score)]
            null_score = float(min(nulls)) if nulls else float("nan")
            passage = int(indices[q, best]) if np.isfinite(span.score) else -1
            answer = OpenAnswer(span.text, passage, span.start, span.end, span.score,
                                null_score, float(similarities[q, best]))
            if threshold is not None and not null_score - span.score <= threshold:
                answer = answer._replace(text="", start=0, end=0)
            out.append(answer)
        return out


def _pack(texts):
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.int64)
    return np.frombuffer(b"".join(encoded), np.uint8), offsets


def _unpack(data, offsets):
    raw = data.tobytes()
    return [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
