"""Readers of the sentence-pair datasets: row counts of the shared files, no quoting, and a
DatasetError naming file and line for every kind of malformed row."""

import json

import pytest
from conftest import SHARED_DATA

from bertcls import DatasetError, read_klue_nli, read_klue_sts, read_kornli, read_korsts

KORSTS_HEADER = "genre\tfilename\tyear\tid\tscore\tsentence1\tsentence2\n"
KORNLI_HEADER = "sentence1\tsentence2\tgold_label\n"


def shared(relative):
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.parametrize("name, rows", [("train", 5749), ("dev", 1500), ("test", 1379)])
def test_korsts_row_counts_and_quotes(name, rows):
    frame = read_korsts(shared(f"korsts/sts-{name}.tsv"))
    assert len(frame) == rows
    assert list(frame.columns) == ["genre", "filename", "year", "id", "sentence1", "sentence2",
                                   "score"]
    assert frame["score"].between(0, 5).all() and frame["score"].dtype == "float64"
    # Double quotes are text, not CSV quoting: some sentences hold them.
    assert frame["sentence1"].str.contains('"').any() or frame["sentence2"].str.contains('"').any()


@pytest.mark.parametrize("name, rows", [("dev", 2490), ("test", 5010)])
def test_kornli_xnli_row_counts(name, rows):
    frame = read_kornli(shared(f"kornli/xnli.{name}.ko.tsv"))
    assert len(frame) == rows
    assert list(frame.columns) == ["premise", "hypothesis", "label"]
    assert frame["label"].value_counts().to_dict() == {
        "entailment": rows // 3, "neutral": rows // 3, "contradiction": rows // 3}
    if name == "dev":
        assert frame["premise"][0] == '그리고 그가 말했다, "엄마, 저 왔어요."'


def test_klue_nli_and_klue_sts_dev():
    nli = read_klue_nli(shared("klue-nli/klue-nli-v1.1_dev.json"))
    assert len(nli) == 3000 and nli["guid"][0] == "klue-nli-v1_dev_00000"
    assert set(nli["label"]) == {"entailment", "neutral", "contradiction"}
    sts = read_klue_sts(shared("klue-sts/klue-sts-v1.1_dev.json"))
    assert len(sts) == 519 and sts["score"][0] == 4.9 and sts["binary_label"][0] == 1
    assert ((sts["score"] >= 3) == (sts["binary_label"] == 1)).all()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, message", [
    ("main\tf\t2012\t1\t3.0\t문장 하나\n", "line 2: expected 7 tab-separated fields"),
    ("main\tf\t2012\t1\t3.0\t문장\t둘\nmain\tf\t2012\t2\t5.5\t셋\t넷\n",
     r"line 3: the score '5.5' is not a number in \[0, 5\]"),
    ("main\tf\t2012\t1\tabc\t문장\t둘\n", "line 2: the score 'abc'"),
    ("main\tf\t2012\t1\t1.0\t \t둘\n", "line 2: sentence1 is empty"),
])
def test_korsts_malformed_rows(tmp_path, body, message):
    path = write(tmp_path, "sts.tsv", KORSTS_HEADER + body)
    with pytest.raises(DatasetError, match=message) as error:
        read_korsts(path)
    assert str(path) in str(error.value)


def test_korsts_and_kornli_headers_and_missing_files(tmp_path):
    with pytest.raises(DatasetError, match="not a KorSTS file"):
        read_korsts(write(tmp_path, "a.tsv", KORNLI_HEADER))
    with pytest.raises(DatasetError, match="not a KorNLI file"):
        read_kornli(write(tmp_path, "b.tsv", KORSTS_HEADER))
    with pytest.raises(DatasetError, match="not found"):
        read_kornli(tmp_path / "none.tsv")
    with pytest.raises(DatasetError, match="not UTF-8"):
        path = tmp_path / "c.tsv"
        path.write_bytes(KORNLI_HEADER.encode() + "비\t가\tneutral\n".encode("cp949"))
        read_kornli(path)


@pytest.mark.parametrize("body, message", [
    ("a\tb\tneutral\na\tb\tmaybe\n", "line 3: the label 'maybe' is not one of"),
    ("a\tb\n", "line 2: expected 3 tab-separated fields"),
    ('a "b\tc\tneutral\nd\te\tentailment\n', None),  # an open quote does not join rows
])
def test_kornli_rows(tmp_path, body, message):
    path = write(tmp_path, "nli.tsv", KORNLI_HEADER + body)
    if message is None:
        assert read_kornli(path)["premise"].tolist() == ['a "b', "d"]
        return
    with pytest.raises(DatasetError, match=message):
        read_kornli(path)


def nli_item(**overrides):
    item = {"guid": "g", "premise": "p", "hypothesis": "h", "gold_label": "neutral"}
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize("items, message", [
    ([nli_item(), nli_item(hypothesis=None)], "line 8: the object has no 'hypothesis'"),
    ([nli_item(), nli_item(gold_label="yes")], "line 8: the label 'yes'"),
    ([nli_item(premise="")], "line 2: premise is empty"),
    ([nli_item(), ["not", "an", "object"]], "line 8: expected an object"),
])
def test_klue_nli_malformed_objects_name_their_line(tmp_path, items, message):
    path = write(tmp_path, "nli.json", json.dumps(items, indent=1))
    with pytest.raises(DatasetError, match=message):
        read_klue_nli(path)


def test_json_errors(tmp_path):
    with pytest.raises(DatasetError, match="not a JSON list"):
        read_klue_nli(write(tmp_path, "a.json", '{"premise": "p"}'))
    with pytest.raises(DatasetError, match="line 3: not valid JSON"):
        read_klue_nli(write(tmp_path, "b.json", '[\n{"premise": "p",\n "x": }]'))
    assert len(read_klue_nli(write(tmp_path, "c.json", " [ ] "))) == 0
    sts = {"guid": "g", "sentence1": "a", "sentence2": "b",
           "labels": {"label": 3.2, "binary-label": 1}}
    bad_binary = dict(sts, labels={"label": 3.2, "binary-label": 2})
    with pytest.raises(DatasetError, match="line 1: labels.binary-label is 2"):
        read_klue_sts(write(tmp_path, "d.json", json.dumps([bad_binary])))
    with pytest.raises(DatasetError, match="labels.label"):
        read_klue_sts(write(tmp_path, "e.json", json.dumps([dict(sts, labels={})])))
    with pytest.raises(DatasetError, match=r"score 7 is not a number in \[0, 5\]"):
        read_klue_sts(write(tmp_path, "f.json", json.dumps(
            [dict(sts, labels={"label": 7, "binary-label": 1})])))
