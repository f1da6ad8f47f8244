"""The model card `save_pretrained` writes: a `README.md` whose YAML front matter is the
metadata the Hugging Face Hub reads (`library_name`, `pipeline_tag`, `base_model`, `language`,
`license`, `tags`, and `model-index` with the evaluation results the user passes), then a
short body naming the architecture, the labels and how to load the model with bertcls and
with transformers.

The YAML is written by hand (no YAML library needed): every string is a JSON string, which
YAML reads as the same double-quoted scalar.
"""

import json
import math
import os

RESULT_KEYS = ("dataset", "metric", "value")


def _quoted(value):
    return json.dumps(value, ensure_ascii=False)


def _check_results(results):
    if results is None:
        return []
    if isinstance(results, dict):
        results = [results]
    checked = []
    for i, result in enumerate(results):
        if not isinstance(result, dict) or any(k not in result for k in RESULT_KEYS):
            raise ValueError(
                f"`results[{i}]` must be a dict with keys {RESULT_KEYS} (and optionally "
                f"'split', 'dataset_type', 'task'), received {result!r}.")
        value = result["value"]
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value)):
            raise ValueError(f"`results[{i}]['value']` must be a finite number, received "
                             f"{value!r}.")
        for key in ("dataset", "metric", "split", "dataset_type", "task"):
            if key in result and not (isinstance(result[key], str) and result[key]):
                raise ValueError(f"`results[{i}][{key!r}]` must be a non-empty string, "
                                 f"received {result[key]!r}.")
        checked.append(result)
    return checked


def model_card(architecture, pipeline_tag, task_class="BertClassifier", labels=None,
               base_model=None, results=None, language=None, license=None, model_name=None,
               tags=()):
    """The text of a `README.md` model card.

    Args:
        architecture: the transformers class (`"BertForSequenceClassification"`).
        pipeline_tag: the Hub's pipeline tag (`"text-classification"`, ...).
        task_class: the bertcls class that loads it (`"BertClassifier"`, ...).
        labels: the label names in id order, or None.
        base_model: the Hub id the model was fine-tuned from (`"klue/bert-base"`).
        results: evaluation results to publish: a dict or a list of dicts with `dataset`,
            `metric`, `value` and optionally `split`, `dataset_type` and `task` (the
            pipeline tag by default), e.g.
            `{"dataset": "NSMC", "split": "test", "metric": "accuracy", "value": 0.9001}`.
        language: a language code or a list of them (`"ko"`).
        license: a license id (`"apache-2.0"`).
        model_name: the name in `model-index` (default: the architecture).
        tags: extra Hub tags.

    Returns:
        The card's text.

    Raises:
        ValueError: a result without its keys, or a value that is not a finite number.

    Example:

    >>> card = model_card("BertForSequenceClassification", "text-classification",
    ...                   labels=["부정", "긍정"], base_model="klue/bert-base",
    ...                   results={"dataset": "NSMC", "split": "test", "metric": "accuracy",
    ...                            "value": 0.9001})
    >>> print(card.split("---")[1].strip().splitlines()[0])
    library_name: "bertcls"
    >>> "value: 0.9001" in card and "| 0 | 부정 |" in card
    True
    """
    results = _check_results(results)
    languages = [language] if isinstance(language, str) else list(language or [])
    lines = ["---", f"library_name: {_quoted('bertcls')}",
             f"pipeline_tag: {_quoted(pipeline_tag)}"]
    if base_model:
        lines.append(f"base_model: {_quoted(base_model)}")
    if languages:
        lines += ["language:"] + [f"- {_quoted(code)}" for code in languages]
    if license:
        lines.append(f"license: {_quoted(license)}")
    lines += ["tags:"] + [f"- {_quoted(tag)}" for tag in ("bertcls", "keras", *tags)]
    if results:
        lines += ["model-index:", f"- name: {_quoted(model_name or architecture)}",
                  "  results:"]
        for result in results:
            dataset = result.get("dataset_type", result["dataset"])
            lines += [
                "  - task:", f"      type: {_quoted(result.get('task', pipeline_tag))}",
                "    dataset:", f"      name: {_quoted(result['dataset'])}",
                f"      type: {_quoted(dataset)}"]
            if "split" in result:
                lines.append(f"      split: {_quoted(result['split'])}")
            lines += ["    metrics:", f"    - type: {_quoted(result['metric'])}",
                      f"      value: {result['value']}"]
    lines += ["---", "", f"# {model_name or architecture}", "",
              f"A `{architecture}` checkpoint written by "
              f"[bertcls](https://github.com/bertcls/bertcls)"
              + (f", fine-tuned from `{base_model}`." if base_model else "."), ""]
    if labels:
        lines += ["| id | label |", "|---|---|"]
        lines += [f"| {i} | {name} |" for i, name in enumerate(labels)]
        lines.append("")
    if results:
        lines += ["| dataset | split | metric | value |", "|---|---|---|---|"]
        lines += [f"| {r['dataset']} | {r.get('split', '')} | {r['metric']} | {r['value']} |"
                  for r in results]
        lines.append("")
    if "For" in architecture:
        other = ("transformers", f"from transformers import AutoModelFor"
                 f"{architecture.split('For', 1)[1]}",
                 f"model = AutoModelFor{architecture.split('For', 1)[1]}.from_pretrained(")
    else:  # a sentence-transformers directory
        other = ("sentence-transformers", "from sentence_transformers import SentenceTransformer",
                 "model = SentenceTransformer(")
    lines += [f"Load it with bertcls (Keras 3) or with {other[0]} (PyTorch):", "",
              "```python", "import bertcls",
              f"model = bertcls.{task_class}.from_preset(\"<this directory or Hub id>\")",
              "```", "", "```python", other[1], other[2] + "\"<this directory or Hub id>\")",
              "```", ""]
    return "\n".join(lines)


def write_model_card(directory, architecture, pipeline_tag, **options):
    """Write `model_card(...)` to `directory/README.md`; return its path."""
    path = os.path.join(directory, "README.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(model_card(architecture, pipeline_tag, **options))
    return path
