"""Train the two NSMC WordPiece vocabularies used by the parity tests.

Single-threaded, fixed input order; the trainer still breaks some ties differently from run to
run, so the committed vocabularies are the fixtures. Writes, next to this script:

- `nsmc_cased/`: ~32k cased vocabulary (stand-in for klue/bert-base's);
- `nsmc_uncased/`: ~32k uncased vocabulary whose normaliser lowercases and strips accents
  the Hugging Face way (NFD splits Hangul syllables into jamo).

Each directory holds `vocab.txt` and a `tokenizer_config.json`, so
`transformers.BertTokenizer.from_pretrained(dir)` and `FeatureEncoder.from_preset(dir)` both
work. Run: `RAYON_NUM_THREADS=1 python tests/data/make_vocabs.py [path/to/nsmc]`.
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_NSMC = HERE.parents[2] / "shared" / "data" / "nsmc"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_SIZE = 32000


def read_documents(path):
    """The `document` column. Lines end with "\n" only: some reviews contain a bare "\r"."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")[1:]
    return ["\t".join(line.split("\t")[1:-1]) for line in lines if line]


def train(documents, lowercase, out_dir):
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=SPECIALS,
        continuing_subword_prefix="##", show_progress=False)
    tokenizer.train_from_iterator(documents, trainer=trainer)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "vocab.txt", "w", encoding="utf-8") as f:
        for token, _ in vocab:
            f.write(token + "\n")
    config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": lowercase,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": 512,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]",
    }
    with open(out_dir / "tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"{out_dir.name}: {len(vocab)} tokens")


def main():
    nsmc = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_NSMC
    documents = read_documents(nsmc / "ratings_train.txt")
    train(documents, lowercase=False, out_dir=HERE / "nsmc_cased")
    train(documents, lowercase=True, out_dir=HERE / "nsmc_uncased")


if __name__ == "__main__":
    main()
