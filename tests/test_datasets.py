import pathlib
import urllib.error

import pytest

from bertcls.training import datasets
from bertcls.training.datasets import DatasetError, clean_like_tutorial, load_nsmc, read_nsmc

QUICK = pathlib.Path(__file__).resolve().parents[1] / "examples" / "data" / "nsmc_quick"


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_multiline_and_empty_records_are_kept(tmp_path):
    p = write(tmp_path / "r.txt",
              "id\tdocument\tlabel\n1\t좋다\t1\n2\t첫 줄\n 둘째 줄\t0\n3\t\t1\n4\ttab\tin\t0\n")
    frame = read_nsmc(p)
    assert frame["id"].tolist() == ["1", "2", "3", "4"]
    assert frame["document"][1] == "첫 줄\n 둘째 줄"
    assert frame["document"].isna().tolist() == [False, False, True, False]
    assert frame["document"][3] == "tab\tin"
    assert frame["label"].tolist() == [1, 0, 1, 0]


def test_truncated_record_is_an_error(tmp_path):
    p = write(tmp_path / "r.txt", "id\tdocument\tlabel\n1\t좋다\t1\n2\t끝나지 않는\n")
    with pytest.raises(DatasetError, match="line 3"):
        read_nsmc(p)


def test_wrong_header_and_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="header"):
        read_nsmc(write(tmp_path / "x.txt", "a\tb\n"))
    with pytest.raises(DatasetError, match="not found"):
        read_nsmc(tmp_path / "missing.txt")
    with pytest.raises(DatasetError, match="not found"):
        load_nsmc(data_dir=tmp_path)


def test_bundled_quick_data():
    train, test = load_nsmc(data_dir=QUICK)
    assert (len(train), len(test)) == (8000, 2000)
    assert set(train["label"]) == {0, 1}


def test_full_nsmc_parses_every_record(nsmc_dir):
    train, test = load_nsmc(data_dir=nsmc_dir)
    # The README of the data: 150,000 and 50,000 rows; pandas.read_table loses some.
    assert (len(train), len(test)) == (150000, 50000)
    cleaned, report = clean_like_tutorial(train)
    assert report["kept"] == len(cleaned)
    assert report["rows"] == report["missing"] + report["duplicates"] + report["kept"]
    assert cleaned["document"].is_unique and not cleaned["document"].isna().any()


def test_download_failure_names_data_dir(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", refuse)
    with pytest.raises(DatasetError, match="data_dir") as info:
        load_nsmc(cache_dir=tmp_path)
    assert "ratings_train.txt" in str(info.value)
    assert not list((tmp_path / "nsmc").glob("*.part"))
    with pytest.raises(DatasetError, match="download=False"):
        load_nsmc(cache_dir=tmp_path, download=False)


def fake_urlopen(body, calls):
    """An `urlopen` that serves `body` for every URL and records the URLs asked for."""

    class Response:
        def __init__(self, url):
            self.data = [body, b""]
            calls.append(url)

        def read(self, n):
            return self.data.pop(0)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    return lambda url, timeout: Response(url)


def test_download_goes_to_cache_once(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(datasets.urllib.request, "urlopen",
                        fake_urlopen(b"id\tdocument\tlabel\n7\tok\t1\n", calls))
    train, test = load_nsmc(cache_dir=tmp_path)
    assert train["document"].tolist() == ["ok"] and len(calls) == 2
    load_nsmc(cache_dir=tmp_path)
    assert len(calls) == 2


KLUE_SENTENCE = "## s1\t<경찰:OG>은\n경\tB-OG\n찰\tI-OG\n은\tO\n\n"


def test_klue_ner_from_a_directory(tmp_path):
    write(tmp_path / "klue-ner-v1.1_dev.tsv", KLUE_SENTENCE)
    splits = datasets.load_klue_ner(data_dir=tmp_path)
    assert list(splits) == ["dev"] and splits["dev"][0].text == "경찰은"
    write(tmp_path / "klue-ner-v1.1_train.tsv", KLUE_SENTENCE + KLUE_SENTENCE.replace("s1", "s2"))
    splits = datasets.load_klue_ner(data_dir=tmp_path)
    assert sorted(splits) == ["dev", "train"] and len(splits["train"]) == 2
    with pytest.raises(DatasetError, match="klue-ner-v1.1_dev.tsv"):
        datasets.load_klue_ner(data_dir=tmp_path / "elsewhere")


def test_klue_ner_download_and_cache(tmp_path, monkeypatch):
    calls = []
    with pytest.raises(DatasetError, match="download=False"):
        datasets.load_klue_ner(cache_dir=tmp_path, download=False)
    monkeypatch.setattr(datasets.urllib.request, "urlopen",
                        fake_urlopen(KLUE_SENTENCE.encode("utf-8"), calls))
    splits = datasets.load_klue_ner(cache_dir=tmp_path)
    assert sorted(splits) == ["dev", "train"] and len(calls) == 2
    assert all("KLUE-benchmark/KLUE" in url for url in calls)
    datasets.load_klue_ner(cache_dir=tmp_path)
    assert len(calls) == 2
