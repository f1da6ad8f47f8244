"""Reading and loading the datasets the examples use: NSMC and KLUE-NER.

NSMC (Naver Sentiment Movie Corpus, CC0) is published as tab-separated
`id<TAB>document<TAB>label` files. A handful of documents contain a line break,
which `pandas.read_table` (the tutorial's reader) splits into broken rows whose
text is lost or mislabelled. `read_nsmc` parses records, not lines, so every
review comes back whole; nothing is dropped silently, and a malformed row is an
error with its line number rather than text glued onto its neighbour.

Both readers decode strictly: bytes that are not UTF-8 are a `DatasetError` naming the
file, the byte offset and the line.
"""

import os
import re
import urllib.error
import urllib.request

from bertcls.tasks.ner import NerExample

NSMC_URLS = {
    "train": "https://raw.githubusercontent.com/e9t/nsmc/master/ratings_train.txt",
    "test": "https://raw.githubusercontent.com/e9t/nsmc/master/ratings_test.txt",
}
NSMC_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
KLUE_NER_URL = ("https://raw.githubusercontent.com/KLUE-benchmark/KLUE/main/klue_benchmark/"
                "klue-ner-v1.1/{}")
KLUE_NER_FILES = {"train": "klue-ner-v1.1_train.tsv", "dev": "klue-ner-v1.1_dev.tsv"}

_RECORD = re.compile(r"(\d+)\t(.*)\t([01])", flags=re.S)
_NEWLINE = re.compile(r"\r\n|\r|\n")
_RECORD_START = re.compile(r"\d+\t")  # a row's id; no continuation line of NSMC starts so
# The entity types of KLUE-NER v1.1 (KLUE paper, section 3.5): person, location,
# organisation, date, time, quantity.
KLUE_NER_TYPES = ("PS", "LC", "OG", "DT", "TI", "QT")


class DatasetError(OSError, ValueError):
    """A dataset file is missing, malformed, or cannot be downloaded.

    Also a `ValueError`, as a malformed file is bad input (readers raised `ValueError` before).
    """


def default_cache_dir():
    """`$BERTCLS_CACHE` or `~/.cache/bertcls`."""
    return os.environ.get("BERTCLS_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "bertcls"))


def read_nsmc(path):
    """Read one NSMC file into a DataFrame with columns `id`, `document`, `label`.

    Records may span several lines (a review with a line break); they are
    joined back with "\\n". Empty documents are kept as missing values (NaN), as
    `pandas.read_table` would give them, so `dropna` behaves as in the tutorial.

    Args:
        path: path of `ratings_train.txt` or `ratings_test.txt`.

    Returns:
        A `pandas.DataFrame` (`id` str, `document` str or NaN, `label` int64).

    Raises:
        DatasetError (a `ValueError` too): the file is missing or not UTF-8 (the byte
            offset is given), has no `id/document/label` header, or holds a row without a
            0/1 label (the line number is given): a row without a label column or with
            another label, or a record cut off at the end of the file.

    Example:

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "r.txt")
    >>> _ = open(p, "w", encoding="utf-8").write(
    ...     "id\\tdocument\\tlabel\\n1\\t좋아요\\t1\\n2\\t두 줄\\n리뷰\\t0\\n")
    >>> read_nsmc(p)["document"].tolist()
    ['좋아요', '두 줄\\n리뷰']
    """
    import numpy as np
    import pandas as pd

    if not os.path.isfile(path):
        raise DatasetError(f"NSMC file not found: {path}")
    lines = _read_lines(path)
    if not lines or lines[0].split("\t") != ["id", "document", "label"]:
        raise DatasetError(
            f"{path} is not an NSMC file: expected the header 'id<TAB>document<TAB>label', "
            f"found {lines[0][:80]!r}")
    if lines and lines[-1] == "":
        lines.pop()
    ids, docs, labels = [], [], []
    pending = None
    start_line = 0
    for number, line in enumerate(lines[1:], start=2):
        if pending is None:
            pending, start_line = line, number
        elif _RECORD_START.match(line):
            # A new row begins while the previous one has no label: never glue them together.
            _bad_record(path, start_line, pending, number)
        else:
            pending += "\n" + line
        match = _RECORD.fullmatch(pending)
        if match:
            ids.append(match.group(1))
            docs.append(match.group(2) if match.group(2) else np.nan)
            labels.append(int(match.group(3)))
            pending = None
    if pending is not None:
        _bad_record(path, start_line, pending, None)
    return pd.DataFrame({"id": ids, "document": pd.Series(docs, dtype=object),
                         "label": np.asarray(labels, dtype="int64")})


def _bad_record(path, start_line, text, next_line):
    """Raise the DatasetError for an NSMC record that never got a 0/1 label."""
    if not _RECORD_START.match(text):
        problem = "does not start with a numeric id and a tab"
    elif text.count("\t") < 2:
        problem = "has no label column (id<TAB>document<TAB>label)"
    else:
        problem = f"has the label {text.rsplit(chr(9), 1)[1][:20]!r}, not 0 or 1"
    where = (f"before the next record starts at line {next_line}" if next_line
             else "at the end of the file")
    raise DatasetError(
        f"{path}: line {start_line}: the record {problem}; it ends {where}: {text[:80]!r}. "
        "Fix or remove that row.")


def _read_lines(path):
    """The file's lines, split as Python's universal newlines do (`\\r\\n`, `\\r`, `\\n`: some
    NSMC reviews hold a bare `\\r`); a DatasetError names the byte offset and line of bytes
    that are not UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _NEWLINE.split(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        line = len(_NEWLINE.findall(data[:error.start].decode("utf-8", "replace"))) + 1
        raise DatasetError(
            f"{path}: not UTF-8 at byte offset {error.start} (line {line}): "
            f"{data[error.start:error.start + 8]!r} ({error.reason}). Re-encode the file as "
            "UTF-8 (e.g. `iconv -f cp949 -t utf-8`).") from None


def read_klue_ner(path, entity_types=KLUE_NER_TYPES):
    """Read a KLUE-NER tsv file (`klue-ner-v1.1_dev.tsv`).

    Format: comment lines start with `## ` (the one just before a sentence holds its id,
    tab, the annotated sentence); then `CHAR<TAB>TAG` per character, spaces included; a blank line
    ends a sentence.

    Tags are checked: `O`, `B-<type>` or `I-<type>` with a type in `entity_types`, and an
    `I-<type>` only right after `B-<type>` or `I-<type>` of the same type (strict IOB2, as
    KLUE-NER's files are written).

    Args:
        path: the file.
        entity_types: the allowed entity types; by default KLUE-NER's six: `PS` (person),
            `LC` (location), `OG` (organisation), `DT` (date), `TI` (time), `QT` (quantity).
            None accepts any type.

    Returns:
        list of `NerExample(id, text, tags)` with `len(tags) == len(text)`.

    Raises:
        DatasetError (a `ValueError` too): the file is missing or not UTF-8 (the byte offset
            is given), or a line is neither a comment, a blank line nor `CHAR<TAB>TAG` with a
            valid tag (the line number is given).

    Example:

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "ner.tsv")
    >>> _ = open(f, "w", encoding="utf-8").write(
    ...     "## s1\\t<경찰:OG>은\\n경\\tB-OG\\n찰\\tI-OG\\n은\\tO\\n\\n")
    >>> read_klue_ner(f)
    [NerExample(id='s1', text='경찰은', tags=['B-OG', 'I-OG', 'O'])]
    """
    if not os.path.isfile(path):
        raise DatasetError(f"KLUE-NER file not found: {path}")
    examples = []
    sentence_id, chars, tags = None, [], []

    def flush():
        if chars:
            examples.append(NerExample(sentence_id, "".join(chars), list(tags)))

    for number, line in enumerate(_read_lines(path), 1):
        if line.startswith("## "):
            if not chars:  # the last comment before a sentence holds its id
                sentence_id = line[3:].split("\t")[0]
            continue
        if not line:
            flush()
            sentence_id, chars, tags = None, [], []
            continue
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1:
            raise DatasetError(
                f"{path}:{number}: expected 'CHAR<TAB>TAG' (one character, a tab, a tag), "
                f"received {line!r}.")
        problem = _tag_problem(parts[1], tags[-1] if tags else "O", entity_types)
        if problem:
            raise DatasetError(f"{path}:{number}: {problem} in {line!r}.")
        chars.append(parts[0])
        tags.append(parts[1])
    flush()
    return examples


def _tag_problem(tag, previous, entity_types):
    """What is wrong with `tag` after `previous` (strict IOB2), or None."""
    if tag == "O":
        return None
    prefix, _, kind = tag.partition("-")
    if prefix not in ("B", "I") or not kind:
        return f"the tag {tag!r} is not O, B-<type> or I-<type>"
    if entity_types is not None and kind not in entity_types:
        return f"the entity type {kind!r} is not one of {tuple(entity_types)}"
    if prefix == "I" and previous not in ("B-" + kind, "I-" + kind):
        return f"{tag!r} follows {previous!r}: an entity must start with 'B-{kind}'"
    return None


def load_nsmc(data_dir=None, cache_dir=None, download=True, timeout=30):
    """NSMC's train and test DataFrames, from local files or the public URLs.

    Args:
        data_dir: a directory holding `ratings_train.txt` and `ratings_test.txt`
            (for example a checkout of e9t/nsmc). No network is used.
        cache_dir: where downloads are kept (default `default_cache_dir()/nsmc`);
            a second call reads the cache.
        download: when False and the files are not cached, fail instead of
            downloading.
        timeout: seconds for each download.

    Returns:
        `(train, test)` as returned by `read_nsmc`.

    Raises:
        DatasetError: files missing in `data_dir`, or not cached and not
            downloadable (no network); the message says how to proceed.
    """
    if data_dir is not None:
        return tuple(read_nsmc(os.path.join(data_dir, NSMC_FILES[s])) for s in ("train", "test"))
    paths = _cached(NSMC_URLS, NSMC_FILES, "nsmc", cache_dir, download, timeout, "NSMC")
    return read_nsmc(paths["train"]), read_nsmc(paths["test"])


def load_klue_ner(data_dir=None, cache_dir=None, download=True, timeout=30):
    """KLUE-NER v1.1's splits as lists of `NerExample(id, text, tags)` (per-character tags).

    Args:
        data_dir: a directory holding `klue-ner-v1.1_dev.tsv` and, optionally,
            `klue-ner-v1.1_train.tsv`. No network is used.
        cache_dir: where downloads are kept (default `default_cache_dir()/klue-ner`).
        download: when False and the files are not cached, fail instead of downloading.
        timeout: seconds for each download.

    Returns:
        dict `{"train": [...], "dev": [...]}`; from a `data_dir` without the train file,
        only `"dev"`.

    Raises:
        DatasetError: the dev file is missing in `data_dir`, or the files are neither cached
            nor downloadable.
    """

    if data_dir is not None:
        paths = {s: os.path.join(data_dir, name) for s, name in KLUE_NER_FILES.items()}
        if not os.path.isfile(paths["dev"]):
            raise DatasetError(f"KLUE-NER file not found: {paths['dev']}")
        if not os.path.isfile(paths["train"]):
            del paths["train"]
    else:
        urls = {s: KLUE_NER_URL.format(name) for s, name in KLUE_NER_FILES.items()}
        paths = _cached(urls, KLUE_NER_FILES, "klue-ner", cache_dir, download, timeout,
                        "KLUE-NER")
    return {split: read_klue_ner(path) for split, path in paths.items()}


def _cached(urls, files, name, cache_dir, download, timeout, title):
    """Paths of `files` in the cache, downloading the missing ones from `urls`."""
    cache_dir = os.path.join(cache_dir or default_cache_dir(), name)
    paths = {s: os.path.join(cache_dir, files[s]) for s in files}
    for split, path in paths.items():
        if os.path.isfile(path):
            continue
        if not download:
            raise DatasetError(f"{title} {split} file is not cached at {path} and "
                               "download=False.")
        os.makedirs(cache_dir, exist_ok=True)
        _download(urls[split], path, timeout)
    return paths


def _download(url, path, timeout):
    tmp = path + ".part"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        reason = getattr(e, "reason", e)
        raise DatasetError(
            f"Could not download {url} ({reason}). Without network access, pass a "
            f"directory that holds the files (data_dir=..., or --data-dir in the examples)."
        ) from e
    os.replace(tmp, path)


def clean_like_tutorial(frame, text_column="document", drop_duplicates=True):
    """The tutorial's cleaning: drop missing documents, then duplicate documents.

    The tutorial de-duplicates its training data only; pass
    `drop_duplicates=False` for the test set to do the same.

    Returns `(cleaned_frame, report)` where `report` counts what was removed, so
    callers can print it (nothing disappears without a trace).
    """
    before = len(frame)
    frame = frame.dropna(how="any").reset_index(drop=True)
    missing = before - len(frame)
    if drop_duplicates:
        frame = frame.drop_duplicates(subset=[text_column]).reset_index(drop=True)
    return frame, {"rows": before, "missing": missing,
                   "duplicates": before - missing - len(frame), "kept": len(frame)}
