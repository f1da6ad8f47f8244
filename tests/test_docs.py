"""Documentation that cannot rot: every docstring example runs, the API reference is current,
and every relative link in README.md and docs/ points at a file that exists."""

import doctest
import importlib
import pathlib
import pkgutil
import re

import pytest

import bertcls
from warm import warm_run

REPO = pathlib.Path(__file__).resolve().parents[1]
# Every module of the package, subpackages' modules included (`bertcls.tasks.classifier`, ...).
MODULES = sorted(m.name for m in pkgutil.walk_packages(bertcls.__path__, "bertcls."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} docstring example(s) failed"


def test_public_classes_and_functions_have_runnable_examples():
    # Exempt: exceptions, and loaders of real files whose examples would need the files.
    exempt = {"read_nsmc", "load_nsmc", "read_klue_ner", "load_klue_ner", "resolve_preset",
              "clean_like_tutorial", "train_vocabulary", "save_vocabulary", "encode_texts",
              "Entity", "NerExample"}  # (the last two are plain records)
    without = []
    for name in bertcls.__all__:
        obj = getattr(bertcls, name)
        if name in exempt or (isinstance(obj, type) and issubclass(obj, Exception)):
            continue
        if ">>>" not in (obj.__doc__ or ""):
            without.append(name)
    assert without == []


def test_api_reference_is_current():
    result = warm_run("tensorflow", [REPO / "docs" / "make_api.py", "--check"])
    assert result.returncode == 0, result.stderr[-2000:]


def test_relative_links_resolve():
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert broken == []
