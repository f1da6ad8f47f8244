"""Check that transformers loads a `BertQuestionAnswerer.save_pretrained` directory with its QA
head, to the same logits. Run in the reference venv (torch + transformers), never in the test
process (tests/test_qa_checkpoints.py runs it in a subprocess when the reference environment
exists: bash tests/reference/make_env.sh):

    .refvenv/bin/python tests/golden/check_qa_pretrained.py <saved_dir> <golden.npz>

`<golden.npz>` holds `input_ids`, `attention_mask`, `token_type_ids` and bertcls'
`start_logits` / `end_logits` for them. Loads the directory with
`AutoModelForQuestionAnswering.from_pretrained` (every missing or unexpected weight is
an error), prints the max abs differences and exits non-zero above 1e-5.
"""

import sys

import numpy as np
import torch
import transformers


def main(directory, golden_path):
    golden = np.load(golden_path)
    model, info = transformers.AutoModelForQuestionAnswering.from_pretrained(
        directory, attn_implementation="eager", output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in info.items() if v}
    print("class:", type(model).__name__, "loading info:", problems or "clean")
    with torch.no_grad():
        out = model(**{k: torch.tensor(golden[k]).long()
                       for k in ("input_ids", "attention_mask", "token_type_ids")})
    mask = golden["attention_mask"].astype(bool)
    start = np.abs(out.start_logits.numpy() - golden["start_logits"])[mask].max()
    end = np.abs(out.end_logits.numpy() - golden["end_logits"])[mask].max()
    print(f"max abs diff: start_logits {start:.3g}, end_logits {end:.3g}")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    print("tokenizer:", type(tokenizer).__name__)
    ok = not problems and start <= 1e-5 and end <= 1e-5
    print("QA_CHECK_OK" if ok else "QA_CHECK_FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
