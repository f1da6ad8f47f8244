"""Sentiment classification of Naver movie reviews (NSMC) with BERT, the bertcls way.

This replaces the Korean "BERT + TPU + 네이버 영화 리뷰" tutorial (klue/bert-base,
TFBertModel, a per-example tokenisation loop padded to 128, a sigmoid head on the
pooled output; test accuracy 0.9001). It reads top to bottom like the tutorial:
load NSMC, clean it, tokenise, build a many-to-one BERT, fit with a validation
split, evaluate on the test set, print predictions, print a summary.

    python examples/nsmc_sentiment.py                      # klue/bert-base, full NSMC
    python examples/nsmc_sentiment.py --data-dir DIR --preset DIR
    python examples/nsmc_sentiment.py --quick              # offline, 35 s on 2 idle CPU cores
    python examples/nsmc_sentiment.py --preset monologg/koelectra-base-v3-discriminator

`--preset` takes any family bertcls loads (BERT, RoBERTa, XLM-R, ELECTRA, ALBERT,
DistilBERT, picked from config.json's model_type) with its tokenizer files (a WordPiece
vocab.txt, or a SentencePiece model: XLM-R, ALBERT, KoBERT; see docs/models.md); the head is
the one transformers' *ForSequenceClassification uses for that family.

`--mlm-epochs N` first continues masked-LM pretraining of the backbone on the training
reviews' text (labels unused; dynamic 15% masking, `bertcls.make_mlm_dataset`) for N epochs,
then fine-tunes the same backbone (shared, not copied) as the classifier.

`--quick` needs no network: it trains a small BERT FROM SCRATCH (not pretrained) on
the NSMC rows bundled in examples/data/nsmc_quick, with a WordPiece vocabulary learned
from those rows. Its accuracy shows the pipeline works; it is not klue/bert-base's.
"""

import argparse
import os
import sys
import time

# Keep TensorFlow's C++ start-up log out of the output (3: even the error-level "failed call
# to cuInit" line on machines without a GPU); errors still reach you as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import bertcls  # noqa: E402

# === Hyperparameters (the tutorial's) ===
PRESET = "klue/bert-base"
MAX_SEQ_LEN = 128
BATCH_SIZE = 64
EPOCHS = 2
LEARNING_RATE = 5e-5
VALIDATION_SPLIT = 0.2
SEED = 42

# === --quick: a small BERT trained from scratch on the bundled rows ===
QUICK_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "nsmc_quick")
QUICK_MAX_SEQ_LEN = 64
QUICK_EPOCHS = 2
QUICK_LEARNING_RATE = 5e-4
QUICK_VOCABULARY_SIZE = 8000
QUICK_BACKBONE = dict(num_layers=2, num_heads=2, hidden_size=128, intermediate_size=512)

# Reviews to predict at the end; the first is the tutorial's own example.
SAMPLE_REVIEWS = [
    "보던거라 계속 보고 있는데 전개도 느리고 주인공인 은희는 한두컷 나오면서 소극적인 모습에",
    "스토리도 엉망이고 연기도 어색해서 시간이 아까웠다",
    "정말 재미있게 봤어요 배우들 연기가 최고입니다",
    "감동적인 영화 다시 보고싶은 영화",
]

OFFLINE_HINT = (
    "No network? Pass --data-dir DIR (a folder with ratings_train.txt and ratings_test.txt) "
    "and --preset DIR (a local Hugging Face directory: config.json, model.safetensors and the "
    "tokenizer files, vocab.txt or a SentencePiece .model), or run with --quick (bundled "
    "data, small model, no download).")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Fine-tune BERT on NSMC (Naver movie review sentiment) with bertcls.")
    parser.add_argument("--quick", action="store_true",
                        help="offline: bundled rows, a small BERT trained from scratch "
                             "(NOT pretrained), a few minutes on CPU")
    parser.add_argument("--data-dir",
                        help="directory with ratings_train.txt and ratings_test.txt "
                             "(default: download from e9t/nsmc into the cache)")
    parser.add_argument("--cache-dir",
                        help="download cache (default: $BERTCLS_CACHE or ~/.cache/bertcls)")
    parser.add_argument("--preset", default=PRESET,
                        help=f"Hugging Face Hub id or local HF directory (default {PRESET})")
    parser.add_argument("--max-seq-len", type=int, help=f"default {MAX_SEQ_LEN}")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--epochs", type=int, help=f"default {EPOCHS}")
    parser.add_argument("--learning-rate", type=float, help=f"default {LEARNING_RATE}")
    parser.add_argument("--validation-split", type=float, default=VALIDATION_SPLIT)
    parser.add_argument("--strategy", default="auto", choices=["auto", "tpu", "gpu", "cpu"],
                        help="where to train: a TPU, all GPUs, or one device (default: "
                             "whatever is there)")
    parser.add_argument("--tpu", help="TPU name or grpc:// address (default: Colab's "
                                      "COLAB_TPU_ADDR, TPU_NAME, or the TPU VM's own)")
    parser.add_argument("--fixed-length", action="store_true",
                        help="pad every review to --max-seq-len, as the tutorial does "
                             "(default: batches bucketed by length, far less padding)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit", type=int,
                        help="use only the first N training rows and N/4 test rows "
                             "(for smoke tests)")
    parser.add_argument("--mlm-epochs", type=int, default=0,
                        help="epochs of masked-LM pretraining on the training texts (labels "
                             "unused) before fine-tuning (default 0: none)")
    parser.add_argument("--save", metavar="DIR",
                        help="write DIR/nsmc.keras and the string-in export DIR/export")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_seq_len = args.max_seq_len or QUICK_MAX_SEQ_LEN
        args.epochs = args.epochs or QUICK_EPOCHS
        args.learning_rate = args.learning_rate or QUICK_LEARNING_RATE
    else:
        args.max_seq_len = args.max_seq_len or MAX_SEQ_LEN
        args.epochs = args.epochs or EPOCHS
        args.learning_rate = args.learning_rate or LEARNING_RATE
    if args.mlm_epochs < 0:
        parser.error(f"--mlm-epochs must be 0 or more, received {args.mlm_epochs}")
    return args


def load_data(args):
    """NSMC train and test, cleaned as the tutorial does."""
    data_dir = QUICK_DATA_DIR if args.quick else args.data_dir
    print(f"Loading NSMC from {data_dir or 'https://raw.githubusercontent.com/e9t/nsmc'}")
    train_data, test_data = bertcls.load_nsmc(data_dir=data_dir, cache_dir=args.cache_dir)
    if args.limit:
        train_data = train_data[:args.limit]
        test_data = test_data[:max(args.limit // 4, 1)]
    # dropna + reset_index on both, drop_duplicates(subset=['document']) on train only.
    train_data, report = bertcls.clean_like_tutorial(train_data)
    print(f"  train: {report['rows']} rows, dropped {report['missing']} empty and "
          f"{report['duplicates']} duplicate reviews, kept {report['kept']}")
    test_data, report = bertcls.clean_like_tutorial(test_data, drop_duplicates=False)
    print(f"  test:  {report['rows']} rows, dropped {report['missing']} empty, "
          f"kept {report['kept']}")
    return train_data, test_data


def load_encoder(args, train_texts):
    """The tokenizer: the preset's (WordPiece or SentencePiece, from the files present), or
    (--quick) a WordPiece vocabulary learned from `train_texts`."""
    if not args.quick:
        return bertcls.encoder_from_preset(args.preset, max_seq_len=args.max_seq_len)
    vocabulary = bertcls.train_vocabulary(train_texts, vocabulary_size=QUICK_VOCABULARY_SIZE)
    print(f"Learned a {len(vocabulary)}-token WordPiece vocabulary from the training rows")
    return bertcls.FeatureEncoder(vocabulary, max_seq_len=args.max_seq_len)


def build_model(args, encoder, runtime):
    """The tutorial's TFBertForSequenceClassification: BERT's pooled output (or the
    preset family's own head: RoBERTa/ELECTRA/DistilBERT read the first token) -> one sigmoid
    unit (TruncatedNormal(0.02)), Adam, binary cross-entropy, accuracy. With --mlm-epochs,
    also a masked-LM model on the same backbone object (its weights are the classifier's)."""
    if args.quick:
        backbone = bertcls.BertBackbone(vocabulary_size=encoder.vocabulary_size,
                                        max_sequence_length=args.max_seq_len, **QUICK_BACKBONE)
    else:
        backbone = bertcls.backbone_from_preset(args.preset)  # the family from model_type
    mlm = None
    if args.mlm_epochs:
        mlm = bertcls.BertMaskedLM(backbone, encoder=encoder)
        mlm.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                    steps_per_execution=runtime.steps_per_execution)
    model = bertcls.BertClassifier(backbone, num_classes=2, encoder=encoder)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  steps_per_execution=runtime.steps_per_execution)
    return model, mlm


def print_sentiment(review, score):
    """The tutorial's output line for one review."""
    if score > 0.5:
        print(f"{review}\n  -> {score * 100:.2f}% 확률로 긍정 리뷰입니다.")
    else:
        print(f"{review}\n  -> {(1 - score) * 100:.2f}% 확률로 부정 리뷰입니다.")


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    if args.quick:
        print("QUICK MODE: a small BERT initialised from scratch (NOT pretrained), trained on "
              "the NSMC rows bundled with the examples; no network is used.")
    try:
        runtime = bertcls.get_strategy(args.strategy, tpu=args.tpu)
    except (bertcls.DeviceNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Training on {runtime}")
    try:
        train_data, test_data = load_data(args)
        encoder = load_encoder(args, train_data["document"])
        with runtime.scope():  # the tutorial's `with strategy.scope():`
            model, mlm = build_model(args, encoder, runtime)
    except (bertcls.DatasetError, bertcls.PresetError) as e:
        print(f"error: {e}\n\n{OFFLINE_HINT}", file=sys.stderr)
        return 2

    # === Encode (the tutorial's convert_examples_to_features, in large batches) ===
    progress = not args.no_progress
    train_x = bertcls.encode_texts(encoder, train_data["document"], progress=progress)
    test_x = bertcls.encode_texts(encoder, test_data["document"], progress=progress)
    train_y = train_data["label"].to_numpy("float32")
    test_y = test_data["label"].to_numpy("float32")

    # === Batches: bucketed by length (or --fixed-length 128, the tutorial) ===
    # validation_split=0.2 as Keras does it: the last 20% of the rows are held out.
    train_rows, val_rows = bertcls.validation_split(len(train_y), args.validation_split)
    batch_size = runtime.global_batch_size(args.batch_size)
    options = dict(batch_size=batch_size, bucket_lengths=None if args.fixed_length else "auto",
                   # TPUs (and replicas splitting a batch) need full batches.
                   drop_remainder=runtime.kind == "tpu" or runtime.num_replicas > 1)

    def dataset(x, y, rows=None, **kwargs):
        if rows is not None:
            x, y = {k: v[rows] for k, v in x.items()}, y[rows]
        return bertcls.make_dataset(x, y, pad_token_id=encoder.pad_token_id,
                                    **options, **kwargs)

    train_ds = dataset(train_x, train_y, train_rows, shuffle=True, seed=args.seed)
    val_ds = dataset(train_x, train_y, val_rows) if len(val_rows) else None

    # === Continue pretraining (--mlm-epochs): masked-LM on the training reviews' text ===
    mlm_loss = None
    if mlm is not None:
        texts = [train_data["document"].iloc[i] for i in train_rows]  # no validation rows
        mlm_ds = bertcls.make_mlm_dataset(
            texts, encoder, seed=args.seed, batch_size=batch_size,
            bucket_lengths=options["bucket_lengths"],
            drop_remainder=options["drop_remainder"])
        print(f"Masked-LM pretraining: {args.mlm_epochs} epoch(s) on {len(texts)} reviews")
        history = mlm.fit(mlm_ds, epochs=args.mlm_epochs, shuffle=False,
                          verbose=1 if progress else 2)
        mlm_loss = history.history["loss"][-1], history.history["accuracy"][-1]

    # === Train (the tutorial: fit(train_X, train_y, epochs=2, batch_size=64,
    # validation_split=0.2)) ===
    fit_started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, shuffle=False,
              verbose=1 if progress else 2)
    fit_seconds = time.time() - fit_started
    trained = len(train_rows) * args.epochs

    # === Evaluate ===
    loss, accuracy = model.evaluate(dataset(test_x, test_y), verbose=0)
    print(f"test loss, test acc: {loss:.4f} {accuracy:.4f}")

    # === Predict (the tutorial's sentiment_predict) ===
    for review in SAMPLE_REVIEWS:
        _, score = model.predict_text(review)
        print_sentiment(review, float(score))

    # === Save: the .keras model and a SavedModel that takes raw strings ===
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        model.save(os.path.join(args.save, "nsmc.keras"))
        # --save names this script's output folder: a re-run replaces its own export.
        bertcls.export_text_model(model, os.path.join(args.save, "export"), overwrite=True)
        print(f"Saved {args.save}/nsmc.keras and the string-in SavedModel {args.save}/export")

    # === Summary ===
    model_name = "small BERT from scratch (NOT pretrained)" if args.quick else args.preset
    print("\n=== Summary ===")
    print(f"model:          {model_name}")
    print(f"backbone:       {type(model.backbone).__name__}")
    batches = f"fixed {args.max_seq_len}" if args.fixed_length else "bucketed by length"
    print(f"batches:        {batches}")
    if mlm_loss is not None:
        print(f"masked-LM:      {args.mlm_epochs} epoch(s) first, last loss {mlm_loss[0]:.4f}, "
              f"masked-token accuracy {mlm_loss[1]:.4f}")
    print(f"fine-tuning:    {args.epochs} epoch(s)")
    print(f"test accuracy:  {accuracy:.4f} on {len(test_y)} reviews")
    print(f"training speed: {trained / fit_seconds:.1f} examples/s")
    print(f"wall time:      {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
