"""Hostile and malformed data files: every reader refuses them with the file and the line or
byte offset, instead of merging, dropping or mis-decoding records (issue #10, data part)."""

import pytest

from bertcls import DatasetError, load_klue_ner, load_nsmc, read_klue_ner, read_nsmc

HEADER = "id\tdocument\tlabel\n"


def write(path, text):
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# === NSMC ===

def test_multi_line_reviews_stay_whole(tmp_path):
    p = write(tmp_path / "r.txt", HEADER + "1\t첫 줄\n둘째 줄\n 셋째\t1\n2\t좋다\t0\n")
    frame = read_nsmc(p)
    assert frame["document"].tolist() == ["첫 줄\n둘째 줄\n 셋째", "좋다"]
    assert frame["label"].tolist() == [1, 0]


@pytest.mark.parametrize("rows, line, problem", [
    # A row without a label column before a good row: it was glued onto the next record.
    ("1\t좋다\t1\n2\t라벨 없음\n3\t다음\t0\n", 3, "no label column"),
    ("1\t좋다\t1\n2\t라벨 둘\t2\n3\t다음\t0\n", 3, "label '2', not 0 or 1"),
    ("1\t좋다\t1\n2\t라벨\tpositive\n", 3, "label 'positive'"),
    ("1\t좋다\t1\n2\t라벨\t-1\n3\tx\t1\n", 3, "label '-1'"),
    ("1\t좋다\t1\n2\t여러 줄\n이어짐\t7\n3\t다음\t0\n", 3, "label '7'"),
    ("1\t좋다\t1\n아이디 없음\t0\n", 3, "numeric id"),
])
def test_malformed_row_is_an_error_with_its_line(tmp_path, rows, line, problem):
    p = write(tmp_path / "bad.txt", HEADER + rows)
    with pytest.raises(DatasetError, match=f"line {line}: the record .*{problem}") as info:
        read_nsmc(p)
    assert "bad.txt" in str(info.value)
    assert isinstance(info.value, ValueError)  # bad input, as other readers' errors


def test_undecodable_bytes_name_file_and_offset(tmp_path):
    good = (HEADER + "1\t좋다\t1\n").encode("utf-8")
    p = write(tmp_path / "cp949.txt", good + "2\t나쁘다\t0\n".encode("cp949"))
    offset = len(good) + 2  # the first byte of the cp949 text
    with pytest.raises(DatasetError, match=f"cp949.txt: not UTF-8 at byte offset {offset} "
                                           r"\(line 3\)"):
        read_nsmc(p)
    with pytest.raises(DatasetError, match="byte offset 0"):
        read_nsmc(write(tmp_path / "latin.txt", b"\xff" + good))


def test_utf8_bom_and_crlf_are_accepted(tmp_path):
    p = write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + (HEADER + "1\t좋다\t1\n").replace(
        "\n", "\r\n").encode("utf-8"))
    assert read_nsmc(p)["document"].tolist() == ["좋다"]


def test_real_nsmc_reads_with_the_same_counts(nsmc_dir):
    train, test = load_nsmc(data_dir=nsmc_dir)
    assert (len(train), len(test)) == (150000, 50000)
    documents = train["document"].dropna()
    # 36 reviews span 40 extra lines (a bare \r in the file, read as a line break): kept whole.
    assert documents.str.contains("\n").sum() == 36
    assert documents.str.count("\n").sum() == 40


# === KLUE-NER ===

SENTENCE = "## s1\t<경찰:OG>은\n경\tB-OG\n찰\tI-OG\n은\tO\n\n"


@pytest.mark.parametrize("body, problem", [
    ("경\tB-XX\n", "entity type 'XX' is not one of"),
    ("경\tB-og\n", "entity type 'og'"),
    ("경\tS-OG\n", "not O, B-<type> or I-<type>"),
    ("경\tB-\n", "not O, B-<type> or I-<type>"),
    ("경\to\n", "not O, B-<type>"),
    ("경\tI-OG\n", "'I-OG' follows 'O'"),
    ("경\tB-PS\n찰\tI-OG\n", "'I-OG' follows 'B-PS'"),
    ("경\tB-OG\tx\n", "expected 'CHAR<TAB>TAG'"),
    ("경찰\tB-OG\n", "expected 'CHAR<TAB>TAG'"),
])
def test_bad_tags_are_errors_with_their_line(tmp_path, body, problem):
    p = write(tmp_path / "ner.tsv", SENTENCE + "## s2\n" + body)
    with pytest.raises(DatasetError, match=r"ner.tsv:\d+: .*" + problem.replace(
            "(", r"\(").replace(")", r"\)")) as info:
        read_klue_ner(p)
    bad_line = 7 + body.count("\n") - 1
    assert f"ner.tsv:{bad_line}:" in str(info.value)


def test_other_entity_types_when_asked(tmp_path):
    p = write(tmp_path / "ner.tsv", "## s\nk\tB-MISC\ni\tI-MISC\n\n")
    with pytest.raises(DatasetError, match="'MISC'"):
        read_klue_ner(p)
    assert read_klue_ner(p, entity_types=None)[0].tags == ["B-MISC", "I-MISC"]
    assert read_klue_ner(p, entity_types=("MISC",))[0].text == "ki"


def test_klue_ner_encoding_and_missing_file(tmp_path):
    good = SENTENCE.encode("utf-8")
    p = write(tmp_path / "euc.tsv", good + "## s2\n".encode() + "경\tO\n".encode("euc-kr"))
    with pytest.raises(DatasetError, match=f"euc.tsv: not UTF-8 at byte offset {len(good) + 6} "
                                           r"\(line 7\)"):
        read_klue_ner(p)
    with pytest.raises(DatasetError, match="not found"):
        read_klue_ner(tmp_path / "missing.tsv")


def test_real_klue_ner_reads_with_the_same_counts(klue_ner_dir):
    dev = load_klue_ner(data_dir=klue_ner_dir)["dev"]
    assert len(dev) == 5000
    tags = [t for e in dev for t in e.tags]
    raw = (klue_ner_dir / "klue-ner-v1.1_dev.tsv").read_text(encoding="utf-8").splitlines()
    assert len(tags) == sum(1 for line in raw if line and not line.startswith("## "))
    assert {t[2:] for t in tags if t != "O"} == {"PS", "LC", "OG", "DT", "TI", "QT"}
