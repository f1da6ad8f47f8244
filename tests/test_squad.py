"""read_squad: SQuAD/KorQuAD JSON, answers checked at their offsets; the article split."""

import json

import pytest

from bertcls import (DatasetError, QAExample, first_answers, load_korquad, read_squad,
                     split_by_title, unanswerable_pairs)
from conftest import SHARED_DATA

CONTEXT = "세종대왕은 1443년 훈민정음을 창제하였다."


def write(tmp_path, data, name="qa.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def squad(qas, context=CONTEXT, title="세종"):
    return {"version": "test", "data": [{"title": title, "paragraphs": [
        {"context": context, "qas": qas}]}]}


def test_reads_questions_answers_and_offsets(tmp_path):
    path = write(tmp_path, squad([
        {"id": "q1", "question": "언제?", "answers": [{"text": "1443년", "answer_start": 6}]},
        {"id": "q2", "question": "누가?", "answers": [{"text": "세종대왕", "answer_start": 0},
                                                    {"text": "세종", "answer_start": 0}]},
        {"id": "q3", "question": "없음", "answers": [], "is_impossible": True},
    ]))
    examples = read_squad(path)
    assert [e.id for e in examples] == ["q1", "q2", "q3"]
    assert examples[1].answers == ["세종대왕", "세종"] and examples[1].answer_starts == [0, 0]
    assert examples[2].answers == [] and examples[0].title == "세종"
    for e in examples:
        for text, start in zip(e.answers, e.answer_starts):
            assert e.context[start:start + len(text)] == text


def test_mismatching_answer_start_names_file_and_question(tmp_path):
    path = write(tmp_path, squad([
        {"id": "q-77", "question": "언제?", "answers": [{"text": "1443년", "answer_start": 7}]}]))
    with pytest.raises(DatasetError, match=r"qa\.json.*'q-77'.*answer_start 7.*'443년 '"):
        read_squad(path)


@pytest.mark.parametrize("data, message", [
    ({"nodata": []}, "no 'data' field"),
    (squad([{"id": "q", "answers": []}]), "no 'question' field"),
    (squad([{"id": "q", "question": "x", "answers": [{"text": "세종"}]}]), "answer_start"),
    (squad([{"id": "q", "question": "x", "answers": []}], context=5), "'context' must be str"),
    (squad([{"id": "q", "question": "x", "answers": []},
            {"id": "q", "question": "y", "answers": []}]), "repeats"),
    (squad([{"id": "q", "question": "x",
             "answers": [{"text": "세종", "answer_start": -1}]}]), "answer_start -1"),
])
def test_malformed_files_raise_dataset_error(tmp_path, data, message):
    with pytest.raises(DatasetError, match=message):
        read_squad(write(tmp_path, data))


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_squad(str(tmp_path / "absent.json"))
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(DatasetError, match="broken.json"):
        read_squad(str(tmp_path / "broken.json"))


def test_load_korquad_offline(tmp_path):
    with pytest.raises(DatasetError, match="not cached"):
        load_korquad(cache_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetError, match="not found"):
        load_korquad(data_dir=str(tmp_path))


def test_split_by_title_keeps_articles_whole():
    examples = read_squad_dev()
    first, second = split_by_title(examples, 0.2, seed=1)
    assert len(first) + len(second) == len(examples)
    assert not {e.title for e in first} & {e.title for e in second}
    assert not {e.context for e in first} & {e.context for e in second}
    assert split_by_title(examples, 0.2, seed=1)[1] == second


def read_squad_dev():
    path = SHARED_DATA / "korquad" / "KorQuAD_v1.0_dev.json"
    if not path.exists():
        pytest.skip(f"KorQuAD dev not found at {path}")
    examples = read_squad(str(path))
    assert len(examples) == 5774
    return examples


def test_squad_v2_unanswerable_questions_become_cls_targets(tmp_path):
    path = write(tmp_path, squad([
        {"id": "q1", "question": "언제?", "answers": [{"text": "1443년", "answer_start": 6}]},
        {"id": "q2", "question": "없음", "answers": [], "is_impossible": True,
         "plausible_answers": [{"text": "세종", "answer_start": 0}]},
    ]))
    examples = read_squad(path)
    assert first_answers(examples) == [("1443년", 6), None]


def test_unanswerable_pairs_take_paragraphs_of_other_articles():
    examples = [QAExample(f"{t}{i}", t, f"질문 {t}{i}", f"{t} 문단 {i % 2}", [f"{t}"], [0])
                for t in "가나다" for i in range(4)]
    negatives = unanswerable_pairs(examples, 9, seed=3)
    assert len(negatives) == 9 and len({e.id for e in negatives}) == 9
    by_id = {e.id: e for e in examples}
    for negative in negatives:
        source = by_id[negative.id[:-len("/unanswerable")]]
        assert negative.question == source.question
        assert negative.title != source.title and negative.context[0] == negative.title
        assert negative.answers == [] and negative.answer_starts == []
    assert unanswerable_pairs(examples, 9, seed=3) == negatives  # seeded
    assert unanswerable_pairs(examples, 9, seed=4) != negatives
    with pytest.raises(ValueError, match=r"`count` must be an integer in \[0, 12\].*received 13"):
        unanswerable_pairs(examples, 13)
    with pytest.raises(ValueError, match="two or more articles"):
        unanswerable_pairs(examples[:4], 1)
    # Questions of one article, paragraphs of others.
    from_others = unanswerable_pairs(examples[:4], 4, paragraphs_from=examples[4:])
    assert {e.title for e in from_others} <= {"나", "다"}
    single_other = unanswerable_pairs(examples[:4], 2, paragraphs_from=examples[4:8])
    assert {e.title for e in single_other} == {"나"}
