"""Make qa_windows.json: Hugging Face's question answering windows, the reference for
tests/test_qa_windows.py (run ONCE, in the reference venv with transformers):

    .refvenv/bin/python tests/golden/make_qa_windows.py

For each case, transformers' BertTokenizerFast on tests/data/nsmc_cased (a cased Korean
vocabulary) encodes `tokenizer(question, context, truncation="only_second",
max_length=max_seq_len, stride=doc_stride, return_overflowing_tokens=True,
return_offsets_mapping=True)`, as `run_qa.py` does, and the windows' ids, token types,
offsets and sequence ids are written. The texts are written for this file (no dataset text).
"""

import json
import os

import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_DIR = os.path.join(HERE, "..", "data", "nsmc_cased")

CONTEXT = ("세종대왕은 1443년 훈민정음을 창제하였고, 1446년에 이를 반포하였다. 훈민정음은 "
           "'백성을 가르치는 바른 소리'라는 뜻으로, 28자의 자모로 이루어져 있었다. "
           "오늘날에는 24자만 쓰인다. Hangul Day는 10월 9일이며, 1991년부터 2012년까지는 "
           "공휴일이 아니었다!  두 칸 띄어쓰기와\t탭, 그리고 ‘따옴표’와 《책 이름》도 있다.")
CASES = [
    ("훈민정음을 만든 사람은?", CONTEXT, 32, 8),
    ("한글날은 언제인가?", CONTEXT, 48, 16),
    ("28자의 자모", CONTEXT, 24, 4),
    ("짧은 질문", "짧은 문맥.", 32, 8),
    ("몇 자?", CONTEXT[:60], 20, 3),
]


def main():
    tokenizer = transformers.BertTokenizerFast.from_pretrained(VOCAB_DIR)
    cases = []
    for question, context, max_seq_len, doc_stride in CASES:
        out = tokenizer(question, context, truncation="only_second", max_length=max_seq_len,
                        stride=doc_stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True)
        cases.append({
            "question": question, "context": context, "max_seq_len": max_seq_len,
            "doc_stride": doc_stride,
            "input_ids": out["input_ids"], "token_type_ids": out["token_type_ids"],
            "offsets": [[list(o) for o in row] for row in out["offset_mapping"]],
            "sequence_ids": [out.sequence_ids(i) for i in range(len(out["input_ids"]))],
        })
    with open(os.path.join(HERE, "qa_windows.json"), "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "cases": cases}, f,
                  ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
