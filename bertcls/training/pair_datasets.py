"""Reading the sentence-pair datasets: KLUE-NLI and KorNLI (natural language inference),
KorSTS and KLUE-STS (semantic textual similarity).

Each reader returns a `pandas.DataFrame` with the two texts and the gold answer, and refuses a
malformed row with a `DatasetError` naming the file and the line, rather than dropping or
mis-splitting it. NLI frames have `premise`, `hypothesis` and `label` (a name in
`NLI_LABELS`); STS frames have `sentence1`, `sentence2` and `score` (0-5).

KorNLI and KorSTS are tab-separated and hold literal double quotes (`"엄마, 저 왔어요."`), so
they are split on tabs with no quoting (pandas' `quoting=3`); a CSV reader with quoting on
would join rows across lines.
"""

import json
import math
import os

from bertcls.training.datasets import DatasetError, _read_lines

NLI_LABELS = ("entailment", "neutral", "contradiction")
KORNLI_HEADER = ["sentence1", "sentence2", "gold_label"]
KORSTS_HEADER = ["genre", "filename", "year", "id", "score", "sentence1", "sentence2"]


def read_klue_nli(path):
    """Read KLUE-NLI (`klue-nli-v1.1_dev.json` / `_train.json`): a JSON list of objects with
    `guid`, `premise`, `hypothesis`, `gold_label`.

    Args:
        path: the JSON file.

    Returns:
        DataFrame with `guid`, `premise`, `hypothesis`, `label` (`entailment` / `neutral` /
        `contradiction`), in file order.

    Raises:
        DatasetError: the file is missing, not a JSON list, or an object lacks a field, holds
            an empty text or an unknown label (the message names the line of the object).

    Example:

    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "nli.json")
    >>> _ = open(path, "w", encoding="utf-8").write(json.dumps([{"guid": "g0",
    ...     "premise": "비가 온다.", "hypothesis": "날씨가 맑다.", "gold_label": "contradiction"}]))
    >>> read_klue_nli(path).iloc[0].tolist()
    ['g0', '비가 온다.', '날씨가 맑다.', 'contradiction']
    """
    rows = []
    for line, item in _json_items(path):
        premise = _text(item, "premise", path, line)
        hypothesis = _text(item, "hypothesis", path, line)
        label = _nli_label(item.get("gold_label"), path, line)
        rows.append((str(item.get("guid", "")), premise, hypothesis, label))
    return _frame(rows, ["guid", "premise", "hypothesis", "label"])


def read_kornli(path):
    """Read a KorNLI file (`xnli.dev.ko.tsv`, `xnli.test.ko.tsv`, `snli_1.0_train.ko.tsv`,
    ...): tab-separated `sentence1<TAB>sentence2<TAB>gold_label` under that header, no quoting.

    Args:
        path: the TSV file.

    Returns:
        DataFrame with `premise` (sentence1), `hypothesis` (sentence2) and `label`.

    Raises:
        DatasetError: missing file, wrong header, a row without exactly three fields, an
            empty sentence or an unknown label (with its line number).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "xnli.tsv")
    >>> _ = open(path, "w", encoding="utf-8").write(
    ...     'sentence1\\tsentence2\\tgold_label\\n그가 "안녕"이라고 했다.\\t그는 말했다.\\tentailment\\n')
    >>> read_kornli(path).iloc[0].tolist()
    ['그가 "안녕"이라고 했다.', '그는 말했다.', 'entailment']
    """
    rows = []
    for line, fields in _tsv_rows(path, KORNLI_HEADER, "KorNLI"):
        rows.append((_cell(fields[0], "sentence1", path, line),
                     _cell(fields[1], "sentence2", path, line),
                     _nli_label(fields[2], path, line)))
    return _frame(rows, ["premise", "hypothesis", "label"])


def read_korsts(path):
    """Read a KorSTS file (`sts-train.tsv`, `sts-dev.tsv`, `sts-test.tsv`): tab-separated
    `genre filename year id score sentence1 sentence2` under that header, no quoting.

    Args:
        path: the TSV file.

    Returns:
        DataFrame with `genre`, `filename`, `year`, `id`, `sentence1`, `sentence2` and
        `score` (float64, 0-5). The published files give 5,749 / 1,500 / 1,379 rows.

    Raises:
        DatasetError: missing file, wrong header, a row without exactly seven fields, an empty
            sentence, or a score that is not a number in [0, 5] (with its line number).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "sts.tsv")
    >>> _ = open(path, "w", encoding="utf-8").write(
    ...     "genre\\tfilename\\tyear\\tid\\tscore\\tsentence1\\tsentence2\\n"
    ...     "main-captions\\tMSRvid\\t2012test\\t0001\\t3.800\\t남자가 연주한다.\\t남자가 노래한다.\\n")
    >>> frame = read_korsts(path)
    >>> frame["score"].tolist(), frame["sentence2"].tolist()
    ([3.8], ['남자가 노래한다.'])
    """
    rows = []
    for line, fields in _tsv_rows(path, KORSTS_HEADER, "KorSTS"):
        genre, filename, year, id_, score = fields[:5]
        rows.append((genre, filename, year, id_,
                     _cell(fields[5], "sentence1", path, line),
                     _cell(fields[6], "sentence2", path, line),
                     _score(score, path, line)))
    return _frame(rows, ["genre", "filename", "year", "id", "sentence1", "sentence2", "score"])


def read_klue_sts(path):
    """Read KLUE-STS (`klue-sts-v1.1_dev.json` / `_train.json`): a JSON list of objects with
    `guid`, `sentence1`, `sentence2` and `labels` (`label` 0-5, `binary-label` 0/1).

    Args:
        path: the JSON file.

    Returns:
        DataFrame with `guid`, `sentence1`, `sentence2`, `score` (`labels.label`, float64)
        and `binary_label` (`labels.binary-label`, 1 when the score is >= 3).

    Raises:
        DatasetError: the file is missing, not a JSON list, or an object lacks a field, holds
            an empty sentence or a score outside [0, 5] (with the line of the object).

    Example:

    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "sts.json")
    >>> _ = open(path, "w", encoding="utf-8").write(json.dumps([{"guid": "g0",
    ...     "sentence1": "방이 넓다.", "sentence2": "방이 크다.",
    ...     "labels": {"label": 4.2, "real-label": 4.21, "binary-label": 1}}]))
    >>> read_klue_sts(path)[["score", "binary_label"]].iloc[0].tolist()
    [4.2, 1.0]
    """
    rows = []
    for line, item in _json_items(path):
        labels = item.get("labels")
        if not isinstance(labels, dict) or "label" not in labels:
            raise DatasetError(f"{path}: line {line}: the object has no labels.label score.")
        binary = labels.get("binary-label")
        if binary not in (0, 1):
            raise DatasetError(f"{path}: line {line}: labels.binary-label is {binary!r}, "
                               "not 0 or 1.")
        rows.append((str(item.get("guid", "")), _text(item, "sentence1", path, line),
                     _text(item, "sentence2", path, line), _score(labels["label"], path, line),
                     int(binary)))
    return _frame(rows, ["guid", "sentence1", "sentence2", "score", "binary_label"])


# === Helpers ===

def _frame(rows, columns):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for column in ("score",):
        if column in frame:
            frame[column] = frame[column].astype("float64")
    if "binary_label" in frame:
        frame["binary_label"] = frame["binary_label"].astype("int64")
    return frame


def _tsv_rows(path, header, title):
    """`(line number, fields)` for each data row of a tab-separated file with `header`."""
    if not os.path.isfile(path):
        raise DatasetError(f"{title} file not found: {path}")
    lines = _read_lines(path)
    if lines[0].split("\t") != header:
        raise DatasetError(
            f"{path} is not a {title} file: expected the header {chr(9).join(header)!r}, "
            f"found {lines[0][:100]!r}")
    if lines[-1] == "":
        lines.pop()
    for number, text in enumerate(lines[1:], start=2):
        fields = text.split("\t")
        if len(fields) != len(header):
            raise DatasetError(
                f"{path}: line {number}: expected {len(header)} tab-separated fields "
                f"({', '.join(header)}), found {len(fields)}: {text[:100]!r}")
        yield number, fields


def _json_items(path):
    """`(line number, object)` for each item of a JSON list, the line where it starts."""
    if not os.path.isfile(path):
        raise DatasetError(f"File not found: {path}")
    text = "\n".join(_read_lines(path))
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise DatasetError(f"{path} is not a JSON list of objects (it does not start with '[').")
    position = _skip_space(text, position + 1)
    if text.startswith("]", position):
        return
    while True:
        line = text.count("\n", 0, position) + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path}: line {e.lineno}: not valid JSON: {e.msg}.") from None
        if not isinstance(item, dict):
            raise DatasetError(f"{path}: line {line}: expected an object, found "
                               f"{type(item).__name__}.")
        yield line, item
        position = _skip_space(text, position)
        if text.startswith("]", position):
            return
        if not text.startswith(",", position):
            raise DatasetError(f"{path}: line {text.count(chr(10), 0, position) + 1}: "
                               "expected ',' or ']' after an object.")
        position = _skip_space(text, position + 1)


def _skip_space(text, position):
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _text(item, key, path, line):
    if key not in item:
        raise DatasetError(f"{path}: line {line}: the object has no {key!r} field.")
    return _cell(item[key], key, path, line)


def _cell(value, key, path, line):
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{path}: line {line}: {key} is empty or not a string: {value!r}.")
    return value


def _nli_label(value, path, line):
    if value not in NLI_LABELS:
        raise DatasetError(f"{path}: line {line}: the label {value!r} is not one of "
                           f"{list(NLI_LABELS)}.")
    return value


def _score(value, path, line):
    try:
        score = float(value)
    except (TypeError, ValueError):
        score = math.nan
    if isinstance(value, bool) or not 0.0 <= score <= 5.0:
        raise DatasetError(f"{path}: line {line}: the score {value!r} is not a number in "
                           "[0, 5].")
    return score
