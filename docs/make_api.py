"""Writes docs/api.md, the API reference, from the docstrings of `bertcls.__all__`.

    python docs/make_api.py          # rewrite docs/api.md
    python docs/make_api.py --check  # exit 1 if docs/api.md is out of date (tests run this)
"""

import inspect
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Document the tree this script is in, not another installed copy of bertcls.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bertcls  # noqa: E402

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api.md")
HEADER = """# API reference

Everything public is importable from `bertcls` (`bertcls/__init__.py`, `__all__`). This page is
generated from the docstrings by `python docs/make_api.py`; a test fails when it is out of date.
Each docstring has the full `Args:` and a runnable example: `help(bertcls.FeatureEncoder)`.
"""


def summary(obj):
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def own_methods(cls):
    """Public methods and classmethods defined by the class itself or by a bertcls base class
    that is not public (e.g. `TextEncoder.decode`), not inherited from Keras."""
    owners = [cls] + [base for base in cls.__mro__[1:]
                      if base.__module__.startswith("bertcls.")
                      and base.__name__ not in bertcls.__all__]
    seen = set()
    for owner in owners:
        for name, value in vars(owner).items():
            if name in seen or name.startswith("_") or name in (
                    "get_config", "from_config", "call", "build", "compute_output_shape",
                    "compute_output_spec"):
                continue
            seen.add(name)
            function = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
            if inspect.isfunction(function) and function.__doc__:
                yield name, getattr(cls, name)


def render():
    sections = {}
    for name in bertcls.__all__:
        obj = getattr(bertcls, name)
        module = obj.__module__
        lines = []
        if inspect.isclass(obj):
            lines.append(f"### `{name}{signature(obj)}`\n\n{summary(obj)}\n")
            for method_name, method in own_methods(obj):
                lines.append(f"- `{method_name}{signature(method)}`: {summary(method)}")
            if lines[-1].startswith("- "):
                lines.append("")
        else:
            lines.append(f"### `{name}{signature(obj)}`\n\n{summary(obj)}\n")
        sections.setdefault(module, []).append("\n".join(lines))
    out = [HEADER]
    for module in sorted(sections):
        out.append(f"## `{module}`\n")
        out.extend(sections[module])
    return "\n".join(out).rstrip() + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        with open(PATH, encoding="utf-8") as f:
            if f.read() != text:
                print("docs/api.md is out of date: run python docs/make_api.py", file=sys.stderr)
                return 1
        return 0
    with open(PATH, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
