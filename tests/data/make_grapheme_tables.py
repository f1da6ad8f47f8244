"""Regenerate the grapheme tables of bertcls/text/unigram.py (`_EXTEND`, `_NOT_BASE`).

tokenizers' `Precompiled` normaliser replaces a whole grapheme cluster when it is shorter than
6 bytes, so the unigram tokenizer needs to know which characters continue the cluster of the
character before them, and after which characters a cluster always ends. Measured with the
`regex` module's `\\X` (extended grapheme clusters):

    python tests/data/make_grapheme_tables.py
"""

import regex


def ranges(codes):
    out = []
    for code in codes:
        if out and out[-1][1] == code - 1:
            out[-1][1] = code
        else:
            out.append([code, code])
    return " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in out)


def main():
    extend = [c for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000
              and regex.fullmatch(r"\X", "a" + chr(c))]
    not_base = [c for c in range(0x10000) if not 0xD800 <= c < 0xE000
                and not regex.fullmatch(r"\X", chr(c) + "\u0301")]
    print("_EXTEND =", ranges(extend))
    print("_NOT_BASE =", ranges(not_base))


if __name__ == "__main__":
    main()
