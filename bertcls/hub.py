"""Resolving a preset (a Hugging Face Hub id or a local directory) to local files.

Every `from_preset` in bertcls goes through `resolve_preset`, so the rules are
the same for the encoder and the backbone:

1. An existing local directory is used as it is (Hugging Face format:
   `config.json`, `vocab.txt`, `tokenizer_config.json`, `model.safetensors`
   or `pytorch_model.bin`).
2. Anything else that looks like a Hub id (`"klue/bert-base"`,
   `"bert-base-uncased"`, optionally `"hf://klue/bert-base"`) is fetched with
   `huggingface_hub.snapshot_download` into its usual cache, downloading only
   the files bertcls reads. Without network the cache is still used; when the
   files are not cached a `PresetError` names the id and what to do instead.
"""

import os
import re

# Only the files bertcls reads: no TF/Flax/ONNX weights, no README images.
HUB_ALLOW_PATTERNS = (
    "config.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "pytorch_model-*.bin",
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


class PresetError(ValueError):
    """A preset could not be found, fetched or read."""


def is_hub_id(preset):
    """True if `preset` is shaped like a Hugging Face Hub id."""
    if preset.startswith("hf://"):
        preset = preset[len("hf://"):]
    return bool(_HUB_ID.match(preset)) and ".." not in preset


def resolve_preset(preset, allow_patterns=HUB_ALLOW_PATTERNS):
    """Return a local directory holding the files of `preset`.

    Args:
        preset: a local directory, or a Hugging Face Hub id such as
            `"klue/bert-base"` (an `"hf://"` prefix is accepted).
        allow_patterns: file name patterns to download for a Hub id.

    Returns:
        The path of a local directory.

    Raises:
        PresetError: `preset` is not a string, names a missing local path, or
            is a Hub id that cannot be fetched (no network and not cached).

    Example:

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> resolve_preset(d) == d
    True
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise PresetError(
            f"A preset must be a Hugging Face Hub id or a local directory path, "
            f"received {type(preset).__name__}: {preset!r}")
    preset = os.fspath(preset)
    expanded = os.path.expanduser(preset)
    if os.path.isdir(expanded):
        return expanded
    if os.path.exists(expanded):
        raise PresetError(
            f"Preset {preset!r} is a file; pass the directory that holds "
            f"config.json / vocab.txt instead.")
    if preset.startswith("hf://"):
        repo_id = preset[len("hf://"):]
    elif preset.startswith((".", "/", "~")) or preset.count("/") > 1:
        raise PresetError(f"Preset directory {preset!r} does not exist.")
    else:
        repo_id = preset
    if not is_hub_id(repo_id):
        raise PresetError(
            f"Preset {preset!r} is neither an existing local directory nor a "
            f"Hugging Face Hub id such as 'klue/bert-base'.")
    return _download(repo_id, allow_patterns)


def _download(repo_id, allow_patterns):
    try:
        import huggingface_hub
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise PresetError(
            f"Fetching {repo_id!r} needs huggingface_hub: pip install huggingface_hub"
        ) from e
    try:
        return huggingface_hub.snapshot_download(
            repo_id=repo_id, allow_patterns=list(allow_patterns))
    except Exception as first_error:  # network down, repo missing, auth ...
        # Offline but cached: use the cache instead of failing.
        try:
            return huggingface_hub.snapshot_download(
                repo_id=repo_id, allow_patterns=list(allow_patterns),
                local_files_only=True)
        except Exception:
            pass
        raise PresetError(
            f"Could not fetch Hugging Face Hub model {repo_id!r} "
            f"({type(first_error).__name__}: {_first_line(first_error)}). "
            f"It is not in the local cache either. Without network access, "
            f"download it elsewhere and pass the local directory (config.json, "
            f"vocab.txt, model.safetensors) instead of the id.") from first_error


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""


def upload_directory(directory, repo_id, token=None, private=None, commit_message=None,
                     revision=None):
    """Upload exactly the files of `directory` to the Hugging Face Hub model repository
    `repo_id` (created if missing), with `huggingface_hub.HfApi`.

    `Task.push_to_hub` calls this on the directory its `save_pretrained` wrote. The upload
    itself needs network access and a token (`token=`, `HF_TOKEN` or `hf auth login`); it is
    the one step bertcls' tests cannot run (they stop at the `HfApi` calls).

    Args:
        directory: the local folder to upload (every file in it, nothing else).
        repo_id: `"user/name"` or `"org/name"`.
        token: a Hub token; None: huggingface_hub's usual lookup.
        private: create the repository private (only when it does not exist yet).
        commit_message: the commit's message.
        revision: the branch to push to (None: the default branch).

    Returns:
        What `HfApi.upload_folder` returns (the commit's information).

    Raises:
        PresetError: `repo_id` is not shaped `namespace/name`, or `directory` does not exist.
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not is_hub_id(repo_id):
        raise PresetError(
            f"`repo_id` must be a Hub repository id shaped 'namespace/name', received "
            f"{repo_id!r}.")
    if not os.path.isdir(directory):
        raise PresetError(f"`directory` {directory!r} is not a directory.")
    import huggingface_hub

    api = huggingface_hub.HfApi(token=token)
    api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    return api.upload_folder(
        folder_path=directory, repo_id=repo_id, repo_type="model", revision=revision,
        commit_message=commit_message or "Upload with bertcls")
