"""SQuAD-format question answering data: reading (KorQuAD 1.0, SQuAD 1.1/2.0 JSON) with every
answer checked against its context, KorQuAD 1.0 download with a cache, an article split, and
unanswerable questions made from answerable ones (a stand-in for KLUE-MRC / SQuAD 2.0)."""

import collections
import json
import os

from bertcls.training.datasets import DatasetError, _cached

KORQUAD_URL = "https://korquad.github.io/dataset/{}"
KORQUAD_FILES = {"train": "KorQuAD_v1.0_train.json", "dev": "KorQuAD_v1.0_dev.json"}

QAExample = collections.namedtuple(
    "QAExample", ["id", "title", "question", "context", "answers", "answer_starts"])
QAExample.__doc__ = """One question on one context.

`answers` are the gold answer texts and `answer_starts` their character offsets in `context`
(`context[s:s + len(a)] == a` for each pair); both empty for an unanswerable SQuAD 2.0
question or an unlabelled test file.

>>> QAExample("q1", "세종", "언제?", "1443년 창제", ["1443년"], [0]).answers
['1443년']
"""


def read_squad(path):
    """Read a SQuAD / KorQuAD JSON file into a list of `QAExample`s, in file order.

    Every answer is checked against its context: the text at `answer_start` must be the
    answer text, character for character (offsets count Unicode code points, as Python's
    `str` does).

    Args:
        path: a JSON file with `data[].paragraphs[].context` and
            `qas[].{id, question, answers[].{text, answer_start}}`.

    Returns:
        list of `QAExample(id, title, question, context, answers, answer_starts)`.

    Raises:
        DatasetError: the file is missing or not JSON, a field is missing or of the wrong
            type, a question id repeats, or an answer does not match its context at its
            offset; the message names the file and the question id.

    Example:

    >>> import json, os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "qa.json")
    >>> context = "세종대왕은 1443년 훈민정음을 창제하였다."
    >>> qa = {"id": "q1", "question": "훈민정음을 만든 해는?",
    ...       "answers": [{"text": "1443년", "answer_start": 6}]}
    >>> data = {"data": [{"title": "세종", "paragraphs": [{"context": context, "qas": [qa]}]}]}
    >>> _ = open(p, "w", encoding="utf-8").write(json.dumps(data, ensure_ascii=False))
    >>> example = read_squad(p)[0]
    >>> example.answers, example.answer_starts
    (['1443년'], [6])
    """
    if not os.path.isfile(path):
        raise DatasetError(f"SQuAD file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path} is not a readable JSON file: {e}") from e
    articles = _field(document, "data", list, path, "the top level")
    examples, seen = [], set()
    for a, article in enumerate(articles):
        where = f"data[{a}]"
        title = article.get("title", "") if isinstance(article, dict) else None
        for p, paragraph in enumerate(_field(article, "paragraphs", list, path, where)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", str, path, where)
            for q, qa in enumerate(_field(paragraph, "qas", list, path, where)):
                where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                qid = _field(qa, "id", (str, int), path, where)
                where = f"question {qid!r} ({where})"
                if qid in seen:
                    raise DatasetError(f"{path}: {where} repeats an earlier question id.")
                seen.add(qid)
                question = _field(qa, "question", str, path, where)
                answers, starts = [], []
                for answer in qa.get("answers", []):
                    text = _field(answer, "text", str, path, where + " answer")
                    start = _field(answer, "answer_start", int, path, where + " answer")
                    found = context[start:start + len(text)] if start >= 0 else None
                    if found != text:
                        raise DatasetError(
                            f"{path}: {where}: the answer {text!r} is not at answer_start "
                            f"{start} of its context (found {found!r} there).")
                    answers.append(text)
                    starts.append(start)
                examples.append(QAExample(str(qid), title, question, context, answers, starts))
    return examples


def first_answers(examples):
    """The training target of each example for `encode_qa` / `BertQuestionAnswerer.encode`:
    `(text, start)` of its first gold answer, or `None` for an unanswerable question (SQuAD
    2.0's `is_impossible`, no answers), whose windows then point at `[CLS]`.

    Example:

    >>> first_answers([QAExample("q1", "t", "언제?", "1443년 창제", ["1443년"], [0]),
    ...                QAExample("q2", "t", "누가?", "1443년 창제", [], [])])
    [('1443년', 0), None]
    """
    return [(e.answers[0], e.answer_starts[0]) if e.answers else None for e in examples]


def _field(record, key, kind, path, where):
    if not isinstance(record, dict) or key not in record:
        raise DatasetError(f"{path}: {where} has no {key!r} field.")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise DatasetError(
            f"{path}: {where}: {key!r} must be {names}, found {type(value).__name__}.")
    return value


def load_korquad(data_dir=None, cache_dir=None, download=True, timeout=60):
    """KorQuAD 1.0's train and dev sets as lists of `QAExample`s.

    Args:
        data_dir: a directory holding `KorQuAD_v1.0_dev.json` and, optionally,
            `KorQuAD_v1.0_train.json`. No network is used.
        cache_dir: where downloads are kept (default `$BERTCLS_CACHE/korquad`).
        download: when False and the files are not cached, fail instead of downloading.
        timeout: seconds for each download.

    Returns:
        dict `{"train": [...], "dev": [...]}`; from a `data_dir` without the train file, only
        `"dev"`.

    Raises:
        DatasetError: the dev file is missing in `data_dir`, or the files are neither cached
            nor downloadable.

    Example:

    >>> import json, os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> data = {"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": []}]}]}
    >>> with open(os.path.join(directory, "KorQuAD_v1.0_dev.json"), "w") as f:
    ...     json.dump(data, f)
    >>> sorted(load_korquad(data_dir=directory))
    ['dev']
    """
    if data_dir is not None:
        paths = {s: os.path.join(data_dir, name) for s, name in KORQUAD_FILES.items()}
        if not os.path.isfile(paths["dev"]):
            raise DatasetError(f"KorQuAD file not found: {paths['dev']}")
        if not os.path.isfile(paths["train"]):
            del paths["train"]
    else:
        urls = {s: KORQUAD_URL.format(name) for s, name in KORQUAD_FILES.items()}
        paths = _cached(urls, KORQUAD_FILES, "korquad", cache_dir, download, timeout, "KorQuAD")
    return {split: read_squad(path) for split, path in paths.items()}


def split_by_title(examples, fraction, seed=0):
    """Split examples into two lists by article (`title`), so no context is in both.

    Args:
        examples: `QAExample`s.
        fraction: the share of articles that go to the second list.
        seed: seed of the article shuffle.

    Returns:
        `(first, second)`, each in the input order.

    Example:

    >>> ex = [QAExample(str(i), t, "q", "c", [], []) for i, t in enumerate("aabbc")]
    >>> first, second = split_by_title(ex, 0.34)
    >>> sorted({e.title for e in first} & {e.title for e in second})
    []
    """
    import numpy as np

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`fraction` must be in (0, 1), received {fraction!r}.")
    titles = sorted({e.title for e in examples})
    if len(titles) < 2:
        raise ValueError(f"Splitting by article needs two or more titles, found {len(titles)}.")
    order = np.random.default_rng(seed).permutation(len(titles))
    count = min(max(1, round(fraction * len(titles))), len(titles) - 1)
    second = {titles[i] for i in order[:count]}
    return ([e for e in examples if e.title not in second],
            [e for e in examples if e.title in second])


def unanswerable_pairs(examples, count, seed=0, paragraphs_from=None):
    """Unanswerable questions made at run time: questions paired with a paragraph of *another
    article*, with no answer (a stand-in for SQuAD 2.0 / KLUE-MRC negatives when only KorQuAD
    1.0 is at hand).

    Each of `count` questions (drawn without replacement, seeded) gets a context drawn from
    the paragraphs of the other articles (`title` differs) of `paragraphs_from`. Such
    negatives are easier than SQuAD 2.0's, which people wrote to look answerable from their
    own paragraph: here the paragraph is usually off-topic, so a model tuned on them learns
    to spot a topic mismatch more than an absent fact.

    Args:
        examples: `QAExample`s, the source of the questions (they are not changed).
        count: how many unanswerable questions to make, at most `len(examples)`.
        seed: seed of the draws.
        paragraphs_from: `QAExample`s whose paragraphs are drawn (default: `examples`); for
            every question there must be one from another article.

    Returns:
        list of `QAExample`s with empty `answers`, ids `"<question id>/unanswerable"`, the
        title of the article their paragraph comes from.

    Example:

    >>> examples = [QAExample("q1", "세종", "훈민정음을 만든 해는?", "1443년 창제", ["1443년"], [0]),
    ...             QAExample("q2", "이순신", "전사한 해는?", "1598년 노량", ["1598년"], [0])]
    >>> [(e.id, e.context, e.answers) for e in unanswerable_pairs(examples, 2)]
    [('q1/unanswerable', '1598년 노량', []), ('q2/unanswerable', '1443년 창제', [])]
    """
    import numpy as np

    examples = list(examples)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= len(examples):
        raise ValueError(f"`count` must be an integer in [0, {len(examples)}] (the number of "
                         f"examples), received {count!r}.")
    paragraphs = {}
    for e in (examples if paragraphs_from is None else list(paragraphs_from)):
        paragraphs.setdefault(e.title, {})[e.context] = None
    titles = sorted(paragraphs)
    pool = [(t, c) for t in titles for c in paragraphs[t]]
    owner = np.array([titles.index(t) for t, _ in pool])
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(examples), count, replace=False))
    out = []
    for i in chosen:
        e = examples[i]
        others = np.flatnonzero(owner != (titles.index(e.title) if e.title in paragraphs
                                          else -1))
        if not len(others):
            raise ValueError(
                f"Question {e.id!r} of article {e.title!r} needs a paragraph of another article: "
                f"the paragraphs come from {len(paragraphs)} article(s) (two or more articles "
                f"are needed, or `paragraphs_from` with other articles).")
        title, context = pool[int(rng.choice(others))]
        out.append(QAExample(f"{e.id}/unanswerable", title, e.question, context, [], []))
    return out
