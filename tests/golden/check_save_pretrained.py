"""Check that transformers loads a bertcls `save_pretrained` directory to the same outputs.

Run in the reference venv (torch + transformers), never in the test process:

    python -c "from bertcls import BertBackbone; \
        BertBackbone.from_preset('<minilm_dir>').save_pretrained('/tmp/saved', \
        encoder='<minilm_dir>/vocab.txt')"
    .refvenv/bin/python tests/golden/check_save_pretrained.py /tmp/saved \
        tests/golden/minilm_golden.npz [sentence ...]

Loads the directory with `BertModel.from_pretrained` (reporting any missing or
unexpected weights) and `BertTokenizer.from_pretrained`, runs the golden batch and
prints the max abs differences to the golden outputs; exits non-zero above 1e-5.
"""

import sys

import numpy as np
import torch
import transformers


def main(directory, golden_path):
    golden = np.load(golden_path)
    model, info = transformers.BertModel.from_pretrained(
        directory, attn_implementation="eager", output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in info.items() if v}
    print("loading info:", problems or "no missing / unexpected / mismatched weights")
    with torch.no_grad():
        out = model(**{k: torch.tensor(golden[k]).long()
                       for k in ("input_ids", "attention_mask", "token_type_ids")})
    mask = golden["attention_mask"][..., None].astype(bool)
    seq = np.abs(out.last_hidden_state.numpy() - golden["sequence_output"])
    seq = np.where(mask, seq, 0).max()
    pooled = np.abs(out.pooler_output.numpy() - golden["pooled_output"]).max()
    print(f"max abs diff: sequence_output {seq:.3g}, pooled_output {pooled:.3g}")
    same = True
    if "texts" in golden.files:
        tokenizer = transformers.BertTokenizer.from_pretrained(directory)
        rows = [tokenizer(str(t))["input_ids"] for t in golden["texts"]]
        rows += [tokenizer(str(a), str(b))["input_ids"] for a, b in golden["pair_texts"]]
        same = all(r == [int(i) for i in g if i] for r, g in zip(rows, golden["input_ids"]))
        print("saved tokenizer reproduces the golden ids:", same)
    return 0 if (seq <= 1e-5 and pooled <= 1e-5 and not problems and same) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
