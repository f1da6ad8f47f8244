"""Learning a BERT WordPiece vocabulary from raw text.

For models trained from scratch (the examples' offline `--quick` mode, or a
domain without a pretrained checkpoint). Uses the Hugging Face `tokenizers`
trainer, so the vocabulary is the same kind that `BertTokenizer` and
`bertcls.FeatureEncoder` read.
"""

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_vocabulary(texts, vocabulary_size=8000, lowercase=False, strip_accents=None,
                     min_frequency=2, limit_alphabet=3000):
    """Learn a WordPiece vocabulary from `texts`.

    Args:
        texts: an iterable of strings.
        vocabulary_size: the size to aim for (the result can be smaller on
            little text).
        lowercase: lowercase before learning (an uncased vocabulary).
        strip_accents: strip accents; `None` follows `lowercase`, as BERT does.
        min_frequency: pieces seen fewer times are not added.
        limit_alphabet: the most frequent characters kept as single pieces;
            Korean text needs a few thousand.

    Returns:
        A list of tokens: `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` first
        (ids 0 to 4), then the learned pieces.

    Raises:
        ValueError: `texts` holds something other than strings, or no text at all.

    Example:

    >>> vocab = train_vocabulary(["재미있는 영화", "재미없는 영화"] * 10, vocabulary_size=50)
    >>> vocab[:5]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    >>> "영화" in vocab
    True
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    texts = list(texts)
    bad = [(i, type(t).__name__) for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"train_vocabulary needs strings; item {bad[0][0]} is a {bad[0][1]} "
                         f"({len(bad)} non-string items in all).")
    if not any(t.strip() for t in texts):
        raise ValueError("train_vocabulary received no text (empty or whitespace-only input).")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True,
        strip_accents=strip_accents, lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocabulary_size, min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS), limit_alphabet=limit_alphabet,
        continuing_subword_prefix="##", show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    vocab = tokenizer.get_vocab()
    return [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]


def save_vocabulary(vocabulary, directory, lowercase=False, strip_accents=None,
                    tokenize_chinese_chars=True):
    """Write `vocab.txt` and `tokenizer_config.json` into `directory`.

    The pair is what `transformers.BertTokenizer.from_pretrained(directory)` and
    `bertcls.FeatureEncoder.from_preset(directory)` read.

    Returns:
        The path of `vocab.txt`.
    """
    import json
    import os

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocabulary) + "\n")
    config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": lowercase,
        "strip_accents": strip_accents,
        "tokenize_chinese_chars": tokenize_chinese_chars,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]",
    }
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
    return path
