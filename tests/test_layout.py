"""The package layout: tiers whose imports only point down, no cycles, one public face, and
`.keras` files saved before the move into tiers still load."""

import ast
import os
import pkgutil

import numpy as np
import pytest

import bertcls

PACKAGE = os.path.dirname(os.path.abspath(bertcls.__file__))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
# Lowest first: a module may import from its own tier or a lower one (docs/architecture.md).
TIERS = ("bertcls.hub", "bertcls.text", "bertcls.models", "bertcls.tasks", "bertcls.training")


def modules():
    """Every module of the package except its public face, `bertcls/__init__.py`."""
    names = []
    for info in pkgutil.walk_packages([PACKAGE], prefix="bertcls."):
        names.append(info.name)
    return sorted(names)


def source_path(name):
    relative = name.split(".")[1:]
    path = os.path.join(PACKAGE, *relative)
    return os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"


def imports_of(name):
    """The bertcls modules `name` imports anywhere in its code (inside functions too)."""
    tree = ast.parse(open(source_path(name), encoding="utf-8").read())
    package = name if source_path(name).endswith("__init__.py") else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "bertcls")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            if module.split(".")[0] == "bertcls":
                found.add(module)
    return found


def tier_of(name):
    for rank, tier in enumerate(TIERS):
        if name == tier or name.startswith(tier + "."):
            return rank
    return None


def test_every_module_belongs_to_a_tier():
    strays = [m for m in modules() if tier_of(m) is None]
    assert not strays, f"modules outside the tiers {TIERS}: {strays}"


def test_imports_point_down_the_tiers():
    upward = []
    for module in modules():
        for target in imports_of(module):
            if target == "bertcls":
                upward.append(f"{module} imports the public face `bertcls`")
            elif tier_of(target) is None or tier_of(target) > tier_of(module):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports pointing up the tiers:\n" + "\n".join(upward)


def find_cycle(graph):
    """A list of modules forming a cycle in `graph` (module -> set of modules), or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def test_no_import_cycles():
    graph = {m: {t for t in imports_of(m) if t in set(modules())} for m in modules()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_cycles():
    # The check above must be able to fail.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_subpackages_say_what_belongs_there():
    for tier in TIERS[1:]:
        doc = ast.get_docstring(ast.parse(open(source_path(tier), encoding="utf-8").read()))
        assert doc and len(doc.splitlines()) == 1, f"{tier} needs a one-line docstring"


def test_public_face_exports_every_name():
    for name in bertcls.__all__:
        assert hasattr(bertcls, name), name


@pytest.mark.parametrize("name", ["classifier", "tagger"])
def test_keras_files_saved_before_the_move_still_load(name):
    import keras

    expected = np.load(os.path.join(FIXTURES, "saved_models_v0.1.npz"))
    features = {k[len("feature_"):]: expected[k] for k in expected.files
                if k.startswith("feature_")}
    model = keras.saving.load_model(os.path.join(FIXTURES, f"{name}_v0.1.keras"))
    assert type(model).__name__ == {"classifier": "BertClassifier", "tagger": "BertTagger"}[name]
    np.testing.assert_allclose(model.predict(features, verbose=0), expected[name], atol=1e-6)
    assert model.encoder is not None
