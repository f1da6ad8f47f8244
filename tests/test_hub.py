import pytest

from bertcls.hub import PresetError, is_hub_id, resolve_preset


def test_local_directory_is_returned(tmp_path):
    assert resolve_preset(tmp_path) == str(tmp_path)


def test_missing_local_directory_names_it(tmp_path):
    missing = str(tmp_path / "nope" / "deeper")
    with pytest.raises(PresetError, match="does not exist"):
        resolve_preset(missing)


def test_file_instead_of_directory(tmp_path):
    f = tmp_path / "vocab.txt"
    f.write_text("[PAD]\n")
    with pytest.raises(PresetError, match="is a file"):
        resolve_preset(f)


def test_wrong_type():
    with pytest.raises(PresetError, match="received int"):
        resolve_preset(3)


@pytest.mark.parametrize("name,ok", [
    ("klue/bert-base", True), ("bert-base-uncased", True), ("hf://klue/bert-base", True),
    ("a/b/c", False), ("../x", False), ("has space/x", False)])
def test_is_hub_id(name, ok):
    assert is_hub_id(name) is ok


def test_offline_hub_id_names_the_id(monkeypatch, tmp_path):
    # No network here or in CI; force offline mode and an empty cache either way.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    import importlib

    import huggingface_hub.constants
    importlib.reload(huggingface_hub.constants)
    try:
        with pytest.raises(PresetError, match="klue/bert-base") as info:
            resolve_preset("klue/bert-base")
        assert "local directory" in str(info.value)
    finally:
        monkeypatch.undo()
        importlib.reload(huggingface_hub.constants)
