"""Named-entity recognition on KLUE-NER with BERT, the bertcls way.

KLUE-NER tags every character of a Korean sentence (spaces included) with BIO tags of six
entity types: PS (person), LC (location), OG (organisation), DT (date), TI (time), QT
(quantity). This example reads top to bottom like its sibling nsmc_sentiment.py: load the
sentences, build a many-to-many BERT (one tag per token), align the character tags to
sub-tokens, fit, predict entity spans on the test split, score them per character, print a
few tagged sentences and a summary.

    python examples/klue_ner.py                      # klue/bert-base, official train/dev
    python examples/klue_ner.py --data-dir DIR --preset DIR
    python examples/klue_ner.py --quick              # offline, 82 s on 2 idle CPU cores

Without `--data-dir` the official train and dev splits are downloaded from the KLUE GitHub
repository (cached in $BERTCLS_CACHE or ~/.cache/bertcls). `--data-dir DIR` reads them from
DIR instead; when DIR holds only the dev file, its 5,000
sentences are split, seeded, into train and test.

`--quick` needs no network: it trains a small BERT FROM SCRATCH (not pretrained) on the
2,000 KLUE-NER dev sentences bundled in examples/data/klue_ner_quick, with a WordPiece
vocabulary learned from the training sentences. Its scores show the pipeline works; they
are not klue/bert-base's (KLUE reports entity F1 83.97, character F1 91.39 for it).

Scores (docs/ner.md explains them), each printed under the name of its definition:
entity F1 micro in seqeval's strict IOB2 and default (conlleval) modes; klue_entity_f1 and
klue_char_f1, KLUE-baseline's two metrics exactly (entity macro F1 over the sentences joined
into one sequence; character macro F1 over the 13 labels, O included), comparable with
KLUE's published 83.97 / 91.39; and a character F1 over the 12 B/I tags only (O left out),
which is NOT KLUE's. A sub-word tagger cannot place a boundary inside a token, so the
"alignment ceiling" (gold tags aligned to tokens and decoded back) is the best it can score.
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
from tqdm import tqdm  # noqa: E402

import bertcls  # noqa: E402

# === Hyperparameters (usual BERT fine-tuning settings, as in docs/ner.md) ===
PRESET = "klue/bert-base"
MAX_SEQ_LEN = 128
BATCH_SIZE = 32
EPOCHS = 3
LEARNING_RATE = 5e-5
TEST_FRACTION = 0.2  # of the dev file, when only the dev file is available
SEED = 42
IGNORED = -100  # label of positions the loss and metrics skip (bertcls' convention)

# === Data: the six KLUE-NER entity types, per-character IOB2 tags ===
ENTITY_TYPES = ("PS", "LC", "OG", "DT", "TI", "QT")
TAGS = ["O"] + [f"{prefix}-{kind}" for kind in ENTITY_TYPES for prefix in "BI"]

# === --quick: a small BERT trained from scratch on the bundled sentences ===
QUICK_DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                               "klue_ner_quick", "klue-ner-v1.1_dev_first2000.tsv")
QUICK_MAX_SEQ_LEN = 128
QUICK_BATCH_SIZE = 32
QUICK_EPOCHS = 20
QUICK_LEARNING_RATE = 1e-3
# A middle ground: pieces short enough that few entity boundaries fall inside one (alignment
# ceiling ~0.91 entity F1; 8,000 pieces: ~0.85), long enough for short, fast sequences.
QUICK_VOCABULARY_SIZE = 4000
QUICK_BACKBONE = dict(num_layers=2, num_heads=2, hidden_size=128, intermediate_size=512)

BUCKET_LENGTHS = (16, 32, 48, 64, 96)  # (and max_seq_len) batch lengths: little padding
SHOW_SENTENCES = 4  # tagged test sentences printed at the end

OFFLINE_HINT = (
    "No network? Pass --data-dir DIR (a folder with klue-ner-v1.1_dev.tsv, and optionally "
    "klue-ner-v1.1_train.tsv) and --preset DIR (a local Hugging Face BERT directory: "
    "config.json, vocab.txt, model.safetensors), or run with --quick (bundled data, small "
    "model, no download).")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Fine-tune BERT for KLUE-NER (per-character named entities) with bertcls.")
    parser.add_argument("--quick", action="store_true",
                        help="offline: bundled sentences, a small BERT trained from scratch "
                             "(NOT pretrained), a few minutes on CPU")
    parser.add_argument("--data-dir",
                        help="directory with klue-ner-v1.1_dev.tsv (and optionally "
                             "klue-ner-v1.1_train.tsv); default: download both from KLUE")
    parser.add_argument("--cache-dir",
                        help="download cache (default: $BERTCLS_CACHE or ~/.cache/bertcls)")
    parser.add_argument("--preset", default=PRESET,
                        help=f"Hugging Face Hub id or local HF directory (default {PRESET})")
    parser.add_argument("--max-seq-len", type=int,
                        help=f"default {MAX_SEQ_LEN} ({QUICK_MAX_SEQ_LEN} with --quick)")
    parser.add_argument("--batch-size", type=int,
                        help=f"default {BATCH_SIZE} ({QUICK_BATCH_SIZE} with --quick)")
    parser.add_argument("--epochs", type=int,
                        help=f"default {EPOCHS} ({QUICK_EPOCHS} with --quick)")
    parser.add_argument("--learning-rate", type=float,
                        help=f"default {LEARNING_RATE} ({QUICK_LEARNING_RATE} with --quick)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit", type=int,
                        help="use only the first N sentences (N train and N/4 test sentences "
                             "with the official splits), for smoke tests")
    parser.add_argument("--save", metavar="DIR",
                        help="write the trained tagger to DIR/klue_ner.keras")
    args = parser.parse_args(argv)
    quick = args.quick
    args.max_seq_len = args.max_seq_len or (QUICK_MAX_SEQ_LEN if quick else MAX_SEQ_LEN)
    args.batch_size = args.batch_size or (QUICK_BATCH_SIZE if quick else BATCH_SIZE)
    args.epochs = args.epochs or (QUICK_EPOCHS if quick else EPOCHS)
    args.learning_rate = args.learning_rate or (QUICK_LEARNING_RATE if quick else LEARNING_RATE)
    return args


def split(examples, seed):
    """A seeded train/test split of one file's sentences."""
    order = np.random.default_rng(seed).permutation(len(examples))
    n_test = max(int(round(len(examples) * TEST_FRACTION)), 1)
    return [examples[i] for i in order[n_test:]], [examples[i] for i in order[:n_test]]


def load_data(args):
    """Train and test sentences: the official splits, or a seeded split of the dev file."""
    if args.quick:
        print(f"Loading KLUE-NER from {QUICK_DATA_FILE}")
        splits = {"dev": bertcls.read_klue_ner(QUICK_DATA_FILE)}
    else:
        print(f"Loading KLUE-NER from {args.data_dir or 'the KLUE GitHub repository'}")
        splits = bertcls.load_klue_ner(data_dir=args.data_dir, cache_dir=args.cache_dir)
    dev = splits["dev"]
    if "train" in splits:
        train, test = splits["train"], dev
        if args.limit:
            train, test = train[:args.limit], test[:max(args.limit // 4, 1)]
        print("  official splits: train = KLUE train, test = KLUE dev")
    else:
        if args.limit:
            dev = dev[:args.limit]
        train, test = split(dev, args.seed)
        print(f"  dev sentences split (seed {args.seed}) into "
              f"{1 - TEST_FRACTION:.0%} train / {TEST_FRACTION:.0%} test")
    for name, part in (("train", train), ("test", test)):
        entities = sum(len(bertcls.get_entities(e.tags)) for e in part)
        print(f"  {name}: {len(part)} sentences, {entities} entities")
    return train, test


def load_tagger(args, train_texts):
    """klue/bert-base (or --preset) with a new tagging head, or (--quick) a small random BERT
    with a vocabulary learned from `train_texts`."""
    if not args.quick:
        return bertcls.BertTagger.from_preset(args.preset, tags=TAGS, level="char",
                                              max_seq_len=args.max_seq_len)
    vocabulary = bertcls.train_vocabulary(train_texts, vocabulary_size=QUICK_VOCABULARY_SIZE)
    print(f"Learned a {len(vocabulary)}-token WordPiece vocabulary from the training sentences")
    encoder = bertcls.FeatureEncoder(vocabulary, max_seq_len=args.max_seq_len)
    backbone = bertcls.BertBackbone(vocabulary_size=len(vocabulary),
                                    max_sequence_length=args.max_seq_len, **QUICK_BACKBONE)
    return bertcls.BertTagger(backbone, tags=TAGS, encoder=encoder, level="char")


def encode(encoder, examples, desc, chunk_size=512):
    """Sentences -> BERT inputs, token labels (-100 where ignored) and token offsets."""
    encoder = bertcls.FeatureEncoder.from_config(
        dict(encoder.get_config(), return_offsets=True))
    tag_to_id = {tag: i for i, tag in enumerate(TAGS)}
    parts = []
    for start in tqdm(range(0, len(examples), chunk_size), desc=desc, unit="chunk"):
        chunk = examples[start:start + chunk_size]
        out = {k: np.asarray(v) for k, v in encoder([e.text for e in chunk]).items()}
        out["labels"] = np.stack([bertcls.align_tags(e.text, offsets, e.tags, tag_to_id)
                                  for e, offsets in zip(chunk, out["offsets"])])
        parts.append(out)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    labels, offsets = arrays.pop("labels"), arrays.pop("offsets")
    return arrays, labels, offsets


def alignment_ceiling(examples, labels, offsets):
    """Per-character tags of the gold entities as a token tagger can express them: gold tags
    aligned to tokens (truncation included), decoded back to character spans."""
    tags = []
    for example, row, row_offsets in zip(examples, labels, offsets):
        token_tags = [TAGS[i] if i != IGNORED else "O" for i in row]
        entities = bertcls.decode_entities(example.text, row_offsets, token_tags)
        tags.append(bertcls.entities_to_char_tags(entities, len(example.text)))
    return tags


def predict(tagger, texts, batch_size, chunk_size=256):
    """Entity spans per text; `predict_texts` batches by length, the chunks feed the bar."""
    entities = []
    for start in tqdm(range(0, len(texts), chunk_size), desc="predicting", unit="chunk"):
        entities += tagger.predict_texts(texts[start:start + chunk_size], batch_size=batch_size)
    return entities


def scores(texts, gold, predicted):
    """Entity P/R/F1 (seqeval strict IOB2 and default mode, micro), KLUE's two metrics, and
    the O-free character F1."""
    return {"entity": bertcls.entity_scores(gold, predicted),
            "entity_default": bertcls.entity_scores(gold, predicted, mode="default")["f1"],
            "klue_entity_f1": bertcls.klue_entity_f1(texts, gold, predicted),
            "klue_char_f1": bertcls.klue_char_f1(texts, gold, predicted),
            "char_f1_without_o": bertcls.char_f1(gold, predicted, labels=TAGS[1:])}


def per_type_f1(gold, predicted):
    """Entity F1 of each type alone (other types read as O)."""
    def only(sequences, kind):
        return [[t if t.endswith("-" + kind) else "O" for t in seq] for seq in sequences]
    return {kind: bertcls.entity_scores(only(gold, kind), only(predicted, kind))["f1"]
            for kind in ENTITY_TYPES}


def mark_up(text, entities):
    """KLUE's own notation: `<경찰:OG>은 또 ...`."""
    parts, last = [], 0
    for e in sorted(entities, key=lambda e: e.start):
        parts += [text[last:e.start], f"<{e.text}:{e.type}>"]
        last = e.end
    return "".join(parts + [text[last:]])


def print_tagged(example, predicted):
    """One test sentence: gold and predicted entities, marked up and listed."""
    gold = [bertcls.Entity(kind, start, end, example.text[start:end])
            for kind, start, end in bertcls.get_entities(example.tags)]
    print(f"[{example.id}]")
    print(f"  gold: {mark_up(example.text, gold)}")
    print(f"  pred: {mark_up(example.text, predicted)}")
    missed = [f"{e.text}/{e.type}" for e in gold if e not in predicted]
    wrong = [f"{e.text}/{e.type}" for e in predicted if e not in gold]
    print(f"  {len(gold)} gold, {len(predicted)} predicted; missed: {', '.join(missed) or '-'}; "
          f"spurious: {', '.join(wrong) or '-'}")


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    if args.quick:
        print("QUICK MODE: a small BERT initialised from scratch (NOT pretrained), trained on "
              "the KLUE-NER sentences bundled with the examples; no network is used.")
    try:
        train, test = load_data(args)
        tagger = load_tagger(args, [e.text for e in train])
    except (bertcls.DatasetError, bertcls.PresetError, ValueError) as e:
        print(f"error: {e}\n\n{OFFLINE_HINT}", file=sys.stderr)
        return 2
    tagger.compile(optimizer=keras.optimizers.Adam(args.learning_rate))

    # === Align the character tags to sub-tokens ===
    train_x, train_y, _ = encode(tagger.encoder, train, "encoding train")
    _, test_y, test_offsets = encode(tagger.encoder, test, "encoding test")
    gold, test_texts = [e.tags for e in test], [e.text for e in test]
    ceiling = scores(test_texts, gold, alignment_ceiling(test, test_y, test_offsets))
    print(f"Alignment ceiling on test (gold tags -> tokens -> back): entity F1 "
          f"{ceiling['entity']['f1']:.4f}, klue_entity_f1 {ceiling['klue_entity_f1']:.4f}, "
          f"klue_char_f1 {ceiling['klue_char_f1']:.4f}")

    # === Train ===
    fit_started = time.time()
    # Shuffled batches of similar-length sentences, padded only to their bucket's length:
    # most KLUE sentences are far shorter than max_seq_len.
    dataset = bertcls.make_dataset(train_x, train_y, batch_size=args.batch_size, shuffle=True,
                                   seed=args.seed, bucket_lengths=BUCKET_LENGTHS,
                                   pad_token_id=tagger.encoder.pad_token_id)
    tagger.fit(dataset, epochs=args.epochs, shuffle=False,  # the dataset shuffles itself
               verbose=1 if sys.stdout.isatty() else 2)
    fit_seconds = time.time() - fit_started

    # === Evaluate: predicted spans -> per-character tags, scored against the gold tags ===
    entities = predict(tagger, test_texts, args.batch_size)
    predicted = [bertcls.entities_to_char_tags(ents, len(e.text))
                 for e, ents in zip(test, entities)]
    result = scores(test_texts, gold, predicted)
    entity = result["entity"]
    print(f"test entity P / R / F1 (micro): {entity['precision']:.4f} / {entity['recall']:.4f}"
          f" / {entity['f1']:.4f}")
    print("test entity F1 by type: " + "  ".join(
        f"{kind} {f1:.3f}" for kind, f1 in per_type_f1(gold, predicted).items()))

    # === Tagged test sentences (short ones with entities, in test order) ===
    print("\nTagged test sentences (<text:TYPE>):")
    shown = [i for i, e in enumerate(test) if len(e.text) <= 80
             and bertcls.get_entities(e.tags)][:SHOW_SENTENCES]
    for i in shown:
        print_tagged(test[i], entities[i])

    if args.save:
        os.makedirs(args.save, exist_ok=True)
        path = os.path.join(args.save, "klue_ner.keras")
        tagger.save(path)
        print(f"\nSaved the tagger to {path}")

    # === Summary ===
    print("\n=== Summary ===")
    model_name = "small BERT from scratch (NOT pretrained)" if args.quick else args.preset
    print(f"model:              {model_name}")
    print(f"test sentences:     {len(test)} (trained on {len(train)}, epochs: {args.epochs})")
    print(f"entity F1 micro, seqeval strict IOB2:  {entity['f1']:.4f}  (ceiling "
          f"{ceiling['entity']['f1']:.4f})")
    print(f"entity F1 micro, seqeval default:      {result['entity_default']:.4f}  "
          f"(conlleval rules, as Hugging Face evaluate)")
    print(f"klue_entity_f1:                        {result['klue_entity_f1']:.4f}  (ceiling "
          f"{ceiling['klue_entity_f1']:.4f}; KLUE reports 83.97 for klue/bert-base)")
    print(f"klue_char_f1:                          {result['klue_char_f1']:.4f}  (ceiling "
          f"{ceiling['klue_char_f1']:.4f}; KLUE reports 91.39 for klue/bert-base)")
    print(f"char F1 without O (not KLUE's):        {result['char_f1_without_o']:.4f}  "
          f"(ceiling {ceiling['char_f1_without_o']:.4f})")
    print(f"training speed:     {len(train) * args.epochs / fit_seconds:.1f} examples/s")
    print(f"wall time:          {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
