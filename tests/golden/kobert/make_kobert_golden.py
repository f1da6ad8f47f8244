"""Make the KoBERT tokenizer golden file of tests/test_kobert.py (run in the reference venv).

    .refvenv/bin/python tests/golden/kobert/make_kobert_golden.py [--full OUT.json]

1. Trains a KoBERT-style SentencePiece unigram model (`spiece.model` next to this script,
   kept if it exists) with the `sentencepiece` package on 3,000 NSMC training reviews: `[UNK]`
   id 0, `[PAD]` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4 as in skt/kobert-base-v1's spiece.model,
   the default `nmt_nfkc` normaliser.
2. Tokenises texts with KoBERT's tokenizer as written in the `kobert_tokenizer` package
   (`KoBERTTokenizer`, an `XLNetTokenizer` subclass) and monologg's `KoBertTokenizer`: the slow
   XLNetTokenizer's `preprocess_text` and `_tokenize` (copied below from transformers 4.x;
   transformers 5's XLNetTokenizer is a different, `tokenizers`-based pipeline that splits
   Hangul into jamo, so it is NOT the reference), `sp_model.PieceToId`, and
   `[CLS] a [SEP] (b [SEP])` with token types 0 / 1.
3. Writes `golden.json.gz`: for each setting (`do_lower_case`, `keep_accents`), the texts, the
   pairs and their reference `input_ids` / `token_type_ids` (no truncation, no padding).

With `--full OUT.json` it instead writes the reference ids of every NSMC review and KLUE
sentence (for benchmarks/parity_kobert.py; not committed).
"""

import argparse
import gzip
import json
import os
import re
import sys
import unicodedata

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
# The data sets beside the repository (its CI layout), or $BERTCLS_DATA.
DATA = os.environ.get("BERTCLS_DATA") or os.path.join(HERE, "..", "..", "..", "..", "shared",
                                                      "data")
SPIECE_UNDERLINE = "\u2581"

EDGE_CASES = [
    "", " ", "  a  b ", "\t탭\n줄\r\n끝", "Hello World", "x\u3000y a\u00a0b a\u1680b a\u2028b",
    "a\u0085b a\u200bb a\ufeffb", "ＡＢＣ①② ㈜x ﾊﾟ", "e\u0301 \ufb01\u0301 A\u030a",
    "[CLS] a [SEP]", "a[MASK]b [UNK][PAD]", "😀🙏 👍🏻", "ᄀ각 \u1100\u1161\u11a8 ㄱㅏ ㅋㅋ",
    "a▁b ▁c ▁▁d", "..... !!!!! ~~~~~~~~", "``인용'' ```x'''", "ÀÉÎ ǅ İstanbul ΣΑΣ",
    "1,000원 2,500,000", "가격은1,2,3, 그리고 ٣, ²,", "10,000,000원짜리 영화,,, 100,", "x\x1cy\x1fz",
    "한국어 문장입니다. 영화가 정말 재밌어요!!", "ㅋㅋㅋㅋ 최고의 영화 10점 만점에 10점",
]


class SlowXLNet:
    """transformers 4.x `XLNetTokenizer.preprocess_text` / `_tokenize` (verbatim logic) with
    KoBERTTokenizer's special-token layout."""

    def __init__(self, model_file, do_lower_case=False, remove_space=True, keep_accents=False):
        self.sp_model = spm.SentencePieceProcessor(model_file=model_file)
        self.do_lower_case = do_lower_case
        self.remove_space = remove_space
        self.keep_accents = keep_accents

    def preprocess_text(self, inputs):
        if self.remove_space:
            outputs = " ".join(inputs.strip().split())
        else:
            outputs = inputs
        outputs = outputs.replace("``", '"').replace("''", '"')
        if not self.keep_accents:
            outputs = unicodedata.normalize("NFKD", outputs)
            outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
        if self.do_lower_case:
            outputs = outputs.lower()
        return outputs

    def _tokenize(self, text):
        text = self.preprocess_text(text)
        pieces = self.sp_model.encode(text, out_type=str)
        new_pieces = []
        for piece in pieces:
            if len(piece) > 1 and piece[-1] == str(",") and piece[-2].isdigit():
                cur_pieces = self.sp_model.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
                if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
                    if len(cur_pieces[0]) == 1:
                        cur_pieces = cur_pieces[1:]
                    else:
                        cur_pieces[0] = cur_pieces[0][1:]
                cur_pieces.append(piece[-1])
                new_pieces.extend(cur_pieces)
            else:
                new_pieces.append(piece)
        return new_pieces

    def ids(self, text):
        return [self.sp_model.PieceToId(p) for p in self._tokenize(text)]

    def encode(self, a, b=None):
        cls, sep = self.sp_model.PieceToId("[CLS]"), self.sp_model.PieceToId("[SEP]")
        first = [cls] + self.ids(a) + [sep]
        if b is None:
            return first, [0] * len(first)
        second = self.ids(b) + [sep]
        return first + second, [0] * len(first) + [1] * len(second)


def nsmc(split, n=None):
    texts = []
    with open(os.path.join(DATA, "nsmc", f"ratings_{split}.txt"), encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1]:
                texts.append(parts[1])
            if n is not None and len(texts) >= n:
                break
    return texts


def klue(n=None):
    """KLUE-NER sentences and KLUE-NLI / KLUE-STS sentence pairs."""
    texts, pairs = [], []
    for line in open(os.path.join(DATA, "klue-ner", "klue-ner-v1.1_dev.tsv"), encoding="utf-8"):
        if line.startswith("## klue-ner") and "\t" in line:
            texts.append(re.sub(r"<([^<>]*?):[A-Z]{2}>", r"\1", line.split("\t", 1)[1]))
    for name, a, b in (("klue-nli/klue-nli-v1.1_dev.json", "premise", "hypothesis"),
                       ("klue-sts/klue-sts-v1.1_dev.json", "sentence1", "sentence2")):
        path = os.path.join(DATA, name)
        if os.path.exists(path):
            pairs += [(row[a], row[b]) for row in json.load(open(path, encoding="utf-8"))]
    if n is not None:
        texts, pairs = texts[:n], pairs[:n]
    return texts, pairs


def train(model_file):
    corpus = model_file + ".corpus.txt"
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(nsmc("train", 3000)) + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=model_file[:-len(".model")], vocab_size=2000,
        model_type="unigram", character_coverage=0.9995, unk_id=0, pad_id=1, bos_id=2,
        eos_id=3, unk_piece="[UNK]", pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]",
        user_defined_symbols=["[MASK]"], minloglevel=2)
    os.remove(corpus)
    os.remove(model_file[:-len(".model")] + ".vocab")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", default=None, help="write every NSMC/KLUE text's ids here")
    args = parser.parse_args()
    model_file = os.path.join(HERE, "spiece.model")
    if not os.path.exists(model_file):
        train(model_file)
    print("sentencepiece", spm.__version__, "model", model_file)
    if args.full:
        tokenizer = SlowXLNet(model_file)
        texts = nsmc("train") + nsmc("test") + klue()[0]
        pairs = klue()[1]
        json.dump({"texts": texts, "ids": [tokenizer.encode(t)[0] for t in texts],
                   "pairs": pairs, "pair_ids": [tokenizer.encode(a, b)[0] for a, b in pairs]},
                  open(args.full, "w", encoding="utf-8"), ensure_ascii=False)
        print("wrote", args.full, len(texts), "texts", len(pairs), "pairs")
        return 0
    texts = EDGE_CASES + nsmc("test", 1500) + klue(400)[0]
    pairs = klue(300)[1] + list(zip(EDGE_CASES[::2], EDGE_CASES[1::2]))
    golden = {"texts": texts, "pairs": pairs, "settings": []}
    for lower, accents in ((False, False), (True, False), (False, True)):
        tokenizer = SlowXLNet(model_file, do_lower_case=lower, keep_accents=accents)
        singles = [tokenizer.encode(t) for t in texts]
        doubles = [tokenizer.encode(a, b) for a, b in pairs]
        golden["settings"].append({
            "do_lower_case": lower, "keep_accents": accents,
            "input_ids": [s[0] for s in singles], "pair_input_ids": [d[0] for d in doubles],
            "pair_token_type_ids": [d[1] for d in doubles]})
    with gzip.open(os.path.join(HERE, "golden.json.gz"), "wt", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
    print("golden.json.gz:", len(texts), "texts,", len(pairs), "pairs, 3 settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
