"""Print the character tables of bertcls/text/wordpiece.py, measured from `tokenizers` itself.

Hugging Face's BertNormalizer / BertPreTokenizer classify characters with Rust crates whose
Unicode versions differ from Python's `unicodedata` and from TensorFlow's ICU, so the tables are
read off the reference by trying every code point. Run `python tests/data/make_unicode_tables.py`
and paste the output over the `# --- tables ---` block of bertcls/text/wordpiece.py;
tests/test_tokenization.py checks the result against the installed `tokenizers` for every code
point.
"""

import unicodedata

from tokenizers import normalizers, pre_tokenizers


def bert_normalizer(clean=False, chinese=False, strip=False, lower=False):
    return normalizers.BertNormalizer(
        clean_text=clean, handle_chinese_chars=chinese, strip_accents=strip, lowercase=lower)


def measure():
    clean, cjk = bert_normalizer(clean=True), bert_normalizer(chinese=True)
    strip, lower = bert_normalizer(strip=True), bert_normalizer(lower=True)
    pre = pre_tokenizers.BertPreTokenizer()
    tables = {"REMOVED": [], "WHITESPACE": [], "PUNCTUATION": [], "CJK": [], "NONSPACING": []}
    lowercase = {}
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        c = chr(code)
        if clean.normalize_str(c) == "":
            tables["REMOVED"].append(code)
        if cjk.normalize_str(c) == f" {c} ":
            tables["CJK"].append(code)
        if unicodedata.normalize("NFD", c) == c and strip.normalize_str(c) == "":
            tables["NONSPACING"].append(code)
        if lower.normalize_str(c) != c:
            lowercase[code] = lower.normalize_str(c)
        words = [w for w, _ in pre.pre_tokenize_str("a" + c + "b")]
        if words == ["a", "b"]:
            tables["WHITESPACE"].append(code)
        elif words == ["a", c, "b"]:
            tables["PUNCTUATION"].append(code)
    return tables, lowercase


def ranges(codes):
    out = []
    for code in codes:
        if out and out[-1][1] == code - 1:
            out[-1][1] = code
        else:
            out.append([code, code])
    return " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in out)


def wrap(name, text):
    lines, line = [], ""
    for item in text.split():
        if len(line) + len(item) + 1 > 88:
            lines.append(line)
            line = ""
        line += item + " "
    lines.append(line)
    body = "\n".join(f'    "{chunk}"' for chunk in lines)
    return f"_{name} = (\n{body}\n)"


def main():
    import tensorflow as tf

    tables, lowercase = measure()
    for name, codes in tables.items():
        print(wrap(name, ranges(codes)))
    # Characters where TensorFlow (ICU) and the reference disagree (newer Unicode versions):
    # tf.strings.lower misses some lowercase mappings; normalize_utf8 NFD decomposes a few
    # characters that the reference keeps. The tokenizer treats them one by one.
    import tensorflow_text as tf_text

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and c != 0]
    lowered = tf.strings.lower(tf.constant(chars), encoding="utf-8").numpy()
    # After a letter too: ICU lowercases a word-final capital sigma to final sigma, the
    # reference (char by char) never does.
    lowered_after = tf.strings.lower(tf.constant(["a" + c for c in chars]),
                                     encoding="utf-8").numpy()
    lower_fixes = [ord(c) for c, g, h in zip(chars, lowered, lowered_after)
                   if g.decode("utf-8") != lowercase.get(ord(c), c)
                   or h.decode("utf-8")[1:] != lowercase.get(ord(c), c)]
    nonspacing = "[" + "".join(chr(c) for c in tables["NONSPACING"]) + "]"
    stripped = tf.strings.regex_replace(
        tf_text.normalize_utf8(tf.constant(chars), "NFD"), nonspacing, "").numpy()
    strip_ref = bert_normalizer(strip=True)
    strip_fixes = [ord(c) for c, g in zip(chars, stripped)
                   if g.decode("utf-8") != strip_ref.normalize_str(c)]
    assert all(strip_ref.normalize_str(chr(c)) == chr(c) for c in strip_fixes)
    # Canonical combining classes: NFD sorts adjacent marks by class. ICU knows classes of
    # marks that the reference's older normalisation data (Unicode 9.0) does not, so it
    # reorders where the reference does not: those marks are cut out before NFD (for the
    # reference they are starters, which no reordering crosses). Probes: a mark of class 230
    # before, one of class 1 after; a class other than 0 moves one of them.
    nfd_ref = normalizers.NFD()
    probes = [("\u0301", ""), ("", "\u0334")]

    def icu_nfd(texts):
        nfd = tf_text.normalize_utf8(tf.constant(texts), "NFD").numpy()
        return [t.decode("utf-8") for t in nfd]

    icu_moves = [False] * len(chars)
    for before, after in probes:
        texts = [before + c + after for c in chars]
        icu_moves = [m or g != t for m, g, t in zip(icu_moves, icu_nfd(texts), texts)]
    icu_single = icu_nfd(chars)
    ccc_fixes, ccc_missing = [], []
    for c, moves, single in zip(chars, icu_moves, icu_single):
        if single != c or nfd_ref.normalize_str(c) != c:
            continue
        ref_moves = any(nfd_ref.normalize_str(b + c + a) != b + c + a for b, a in probes)
        if moves and not ref_moves:
            ccc_fixes.append(ord(c))
        elif ref_moves and not moves:
            ccc_missing.append(ord(c))
    # A class the reference knows and ICU not could not be fixed this way; there is none.
    assert not ccc_missing, ccc_missing
    # The reference's combining classes (for the offsets path, which reorders marks itself):
    # the code points whose class it knows, measured as above; the values are Python's
    # (a class never changes once assigned).
    known = [ord(c) for c in chars if nfd_ref.normalize_str(c) == c and any(
        nfd_ref.normalize_str(b + c + a) != b + c + a for b, a in probes)]
    assert all(unicodedata.combining(chr(c)) for c in known)
    classes = []
    for code in known:
        value = unicodedata.combining(chr(code))
        if classes and classes[-1][1] == code - 1 and classes[-1][2] == value:
            classes[-1][1] = code
        else:
            classes.append([code, code, value])
    print(wrap("LOWERCASE_FIXES", ranges(lower_fixes)))
    print(wrap("STRIP_FIXES", ranges(strip_fixes)))
    print(wrap("CCC_FIXES", ranges(ccc_fixes)))
    print(wrap("COMBINING_CLASSES", " ".join(
        (f"{a:x}" if a == b else f"{a:x}-{b:x}") + f":{v}" for a, b, v in classes)))
    rare = sorted(set(lower_fixes) | set(strip_fixes) | set(ccc_fixes))
    print(wrap("RARE_LOWERCASE", " ".join(
        f"{c:x}:" + ".".join(f"{ord(x):x}" for x in lowercase.get(c, chr(c))) for c in rare)))


if __name__ == "__main__":
    main()
