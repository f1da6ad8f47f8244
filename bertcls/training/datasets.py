"""Loading the datasets the examples use: NSMC and KLUE-NER (read by `bertcls.tasks.ner`).

NSMC (Naver Sentiment Movie Corpus, CC0) is published as tab-separated
`id<TAB>document<TAB>label` files. A handful of documents contain a line break,
which `pandas.read_table` (the tutorial's reader) splits into broken rows whose
text is lost or mislabelled. `read_nsmc` parses records, not lines, so every
review comes back whole; nothing is dropped silently.
"""

import os
import re
import urllib.error
import urllib.request

from bertcls.tasks.ner import read_klue_ner

NSMC_URLS = {
    "train": "https://raw.githubusercontent.com/e9t/nsmc/master/ratings_train.txt",
    "test": "https://raw.githubusercontent.com/e9t/nsmc/master/ratings_test.txt",
}
NSMC_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
KLUE_NER_URL = ("https://raw.githubusercontent.com/KLUE-benchmark/KLUE/main/klue_benchmark/"
                "klue-ner-v1.1/{}")
KLUE_NER_FILES = {"train": "klue-ner-v1.1_train.tsv", "dev": "klue-ner-v1.1_dev.tsv"}

_RECORD = re.compile(r"(\d+)\t(.*)\t([01])", flags=re.S)


class DatasetError(OSError):
    """A dataset file is missing, malformed, or cannot be downloaded."""


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
        DatasetError: the file is missing, has no `id/document/label` header,
            or ends in the middle of a record.

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
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if not lines or lines[0].rstrip("\r").split("\t") != ["id", "document", "label"]:
        raise DatasetError(
            f"{path} is not an NSMC file: expected the header 'id<TAB>document<TAB>label', "
            f"found {lines[0][:80]!r}")
    if lines and lines[-1] == "":
        lines.pop()
    ids, docs, labels = [], [], []
    pending = None
    start_line = 0
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if pending is None:
            pending, start_line = line, number
        else:
            pending += "\n" + line
        match = _RECORD.fullmatch(pending)
        if match:
            ids.append(match.group(1))
            docs.append(match.group(2) if match.group(2) else np.nan)
            labels.append(int(match.group(3)))
            pending = None
    if pending is not None:
        raise DatasetError(
            f"{path}: the record starting at line {start_line} never ends with a "
            f"'<TAB>0' or '<TAB>1' label: {pending[:80]!r}")
    return pd.DataFrame({"id": ids, "document": pd.Series(docs, dtype=object),
                         "label": np.asarray(labels, dtype="int64")})


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
