"""Write docs/api.md, the API reference, from the docstrings of every public name.

    python docs/gen_api.py           # (re)write docs/api.md
    python docs/gen_api.py --check   # exit 1 if docs/api.md is not what the docstrings give now

A module's public names are its ``__all__``; for a module without one, every attribute whose name
does not start with an underscore and that is not a module, restricted, for a plain module (not a
package), to what the module defines itself (so ``scratchnet.cuda`` does not list the helpers it
imports from ``scratchnet.backend``). tests/test_docs.py checks the result against the same rule.

A name exported from several modules (``scratchnet.summary`` is ``scratchnet.analysis.summary``) is
described once, in the section of the module that defines it, and linked from the others.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "api.md"
sys.path.insert(0, str(ROOT))  # document this checkout, not an installed copy

import importlib  # noqa: E402

#: The sections of the reference, in reading order.
MODULES = [
    "scratchnet",
    "scratchnet.autograd",
    "scratchnet.nn",
    "scratchnet.nn.functional",
    "scratchnet.nn.init",
    "scratchnet.optim",
    "scratchnet.optim.lr_scheduler",
    "scratchnet.data",
    "scratchnet.data.transforms",
    "scratchnet.data.tta",
    "scratchnet.train",
    "scratchnet.train.metrics",
    "scratchnet.io",
    "scratchnet.analysis",
    "scratchnet.models",
    "scratchnet.viz",
    "scratchnet.cuda",
    "scratchnet.labs",
]


def public_names(module: types.ModuleType) -> list[str]:
    """The module's public names, by the rule of the module docstring."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    is_package = hasattr(module, "__path__")
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType) or name == "annotations":
            continue
        if is_package or getattr(value, "__module__", None) == module.__name__:
            names.append(name)
    return names


# --------------------------------------------------------------------------- text helpers


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def inline(text: str) -> str:
    """Docstring prose as Markdown: ``code`` stays code; * _ < > [ ] outside code are escaped."""
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_escape(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    return re.sub(r"([\\*_<>\[\]])", r"\\\1", text)


def cell(text: str) -> str:
    """Prose for a table cell: one line, pipes escaped (also inside code spans, as GFM requires)."""
    return inline(" ".join(text.split())).replace("|", "\\|")


def summary_of(doc: str) -> str:
    """The first paragraph of a docstring."""
    return doc.strip().split("\n\n")[0].strip() if doc else ""


def clean(text: str) -> str:
    """Remove what changes from run to run (memory addresses) and tidy class reprs."""
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return re.sub(r"<class '([\w.]+)'>", r"\1", text)


def signature(obj: Any, name: str, wrap: bool = True) -> str | None:
    """``name(arg: type = default, ...) -> type``, wrapped one argument per line when long."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params, previous_kind = [], None
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and previous_kind not in (p.KEYWORD_ONLY, p.VAR_POSITIONAL):
            params.append("*")
        if previous_kind is p.POSITIONAL_ONLY and p.kind is not p.POSITIONAL_ONLY:
            params.append("/")
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.annotation is not p.empty:
            text += ": " + (
                p.annotation
                if isinstance(p.annotation, str)
                else inspect.formatannotation(p.annotation)
            )
        if p.default is not p.empty:
            text += (" = " if p.annotation is not p.empty else "=") + repr(p.default)
        params.append(text)
        previous_kind = p.kind
    if previous_kind is inspect.Parameter.POSITIONAL_ONLY:
        params.append("/")
    returns = ""
    if sig.return_annotation is not sig.empty and not inspect.isclass(obj):
        annotation = sig.return_annotation
        returns = " -> " + (
            annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
        )
    one_line = f"{name}({', '.join(params)}){returns}"
    if len(one_line) <= 100 or not wrap:
        return clean(one_line)
    return clean(f"{name}(\n" + "".join(f"    {p},\n" for p in params) + f"){returns}")


def source_link(obj: Any) -> str:
    """A relative link from docs/ to the file that defines ``obj``, or '' when there is none.

    The file, not the line: a line number would go stale with every edit above it.
    """
    try:
        path = Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve()
        relative = path.relative_to(ROOT).as_posix()
    except (TypeError, OSError, ValueError):
        return ""
    return f"Source: [{relative}](../{relative})"


def module_link(module: types.ModuleType) -> str:
    path = Path(module.__file__).resolve().relative_to(ROOT).as_posix()
    return f"[{path}](../{path})"


def data_comment(name: str, module: types.ModuleType) -> str:
    """The comment block just above ``NAME = ...`` in
    the module (or a submodule) that assigns it.
    """
    candidates = [module] + [
        m for key, m in sorted(sys.modules.items()) if key.startswith(module.__name__ + ".")
    ]
    for candidate in candidates:
        try:
            lines = inspect.getsource(candidate).splitlines()
        except (OSError, TypeError):
            continue
        for number, line in enumerate(lines):
            if re.match(rf"^{re.escape(name)}\s*(:[^=]*)?=", line):
                comment = []
                for above in reversed(lines[:number]):
                    if not above.startswith("#"):
                        break
                    comment.insert(0, above.lstrip("#: ").rstrip())
                return " ".join(comment)
    return ""


def kind_of(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return "module"
    if inspect.isclass(value) and not getattr(value, "__module__", "").startswith("scratchnet"):
        return "alias"  # numpy's dtypes under PyTorch's names
    if inspect.isclass(value):
        return "class"
    if callable(value):
        return "function"
    return "data"


# --------------------------------------------------------------------------- the document


def canonical_sections(modules: dict[str, types.ModuleType]) -> dict[int, str]:
    """For every public object: the section that describes it (the one nearest its definition)."""
    owners: dict[int, list[str]] = {}
    for module_name, module in modules.items():
        for name in public_names(module):
            owners.setdefault(id(getattr(module, name)), []).append(module_name)
    chosen = {}
    for key, sections in owners.items():
        obj = next(
            getattr(modules[s], n)
            for s in sections
            for n in public_names(modules[s])
            if id(getattr(modules[s], n)) == key
        )
        defined_in = getattr(obj, "__module__", None) or ""
        prefixes = [s for s in sections if defined_in == s or defined_in.startswith(s + ".")]
        chosen[key] = max(prefixes, key=len) if prefixes else sections[0]
    return chosen


#: Special methods shown as the operators they implement.
OPERATORS = {
    "__call__": "call: obj(...)",
    "__add__": "+",
    "__sub__": "-",
    "__mul__": "*",
    "__truediv__": "/",
    "__pow__": "**",
    "__matmul__": "@",
    "__neg__": "unary -",
    "__abs__": "abs()",
    "__getitem__": "obj[index]",
    "__setitem__": "obj[index] = value",
    "__eq__": "==",
    "__ne__": "!=",
    "__lt__": "<",
    "__le__": "<=",
    "__gt__": ">",
    "__ge__": ">=",
    "__iter__": "iter()",
    "__len__": "len()",
    "__enter__": "with obj:",
}


def describe_class_members(cls: type) -> list[str]:
    """A table of the public methods, properties and
    attributes the class itself defines, and its operators.
    """
    rows = []
    operators = [symbol for special, symbol in OPERATORS.items() if special in vars(cls)]
    if operators:
        rows.append(("operators", "special", ", ".join(f"``{symbol}``" for symbol in operators)))
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, types.MemberDescriptorType):  # a __slots__ attribute
            rows.append((f"`{name}`", "attribute", ""))
        elif isinstance(member, property):
            rows.append((f"`{name}`", "property", inspect.getdoc(member) or ""))
        elif isinstance(member, staticmethod | classmethod):
            function = member.__func__
            text = signature(function, name, wrap=False) or name
            rows.append((f"`{text}`", type(member).__name__, inspect.getdoc(function)))
        elif inspect.isfunction(member):
            text = (
                (signature(member, name, wrap=False) or name)
                .replace("(self, ", "(")
                .replace("(self)", "()")
            )
            rows.append(
                (f"`{text}`", "method", member.__doc__ and inspect.cleandoc(member.__doc__))
            )
    if not rows:
        return []
    lines = ["| member | kind | description |", "| --- | --- | --- |"]
    lines += [
        f"| {cell(sig)} | {kind} | {cell(summary_of(doc or ''))} |" for sig, kind, doc in rows
    ]
    return lines


def describe(qualified: str, value: Any, module: types.ModuleType) -> list[str]:
    """The entry of one name: heading, signature, summary, full docstring, members, source."""
    kind = kind_of(value)
    lines = [f"### {qualified}", ""]
    if kind == "alias":
        lines += [
            f"Alias of `{value.__module__}.{value.__name__}` (a dtype, under PyTorch's name).",
            "",
        ]
        return lines
    if kind == "data":
        comment = data_comment(qualified.rsplit(".", 1)[1], module)
        text = repr(value)
        shown = text if len(text) <= 300 else text[:300] + " ..."
        lines += [
            f"A `{type(value).__name__}` constant." + (f" {inline(comment)}" if comment else ""),
            "",
        ]
        # text, not python: ruff format leaves it as printed
        lines += [
            "```text",
            clean(shown),
            "```",
            "",
        ]
        return lines
    short_name = qualified.rsplit(".", 1)[1]
    sig = signature(value, short_name)
    if sig:
        lines += ["```python", ("class " if kind == "class" else "") + sig, "```", ""]
    doc = (
        inspect.getdoc(value)
        if kind != "class"
        else (value.__dict__.get("__doc__") and inspect.getdoc(value))
    )
    if kind == "class":
        bases = [b for b in value.__bases__ if b is not object]
        if bases:
            lines += [
                "Bases: " + ", ".join(f"`{b.__module__}.{b.__qualname__}`" for b in bases),
                "",
            ]
    if doc:
        head, _, rest = doc.partition("\n\n")
        lines += [inline(" ".join(head.split())), ""]
        if rest.strip():
            fence = "~~~~" if "```" in rest else "```"
            lines += [
                "<details><summary>More</summary>",
                "",
                fence + "text",
                rest.strip(),
                fence,
                "",
                "</details>",
                "",
            ]
    else:
        lines += ["(No docstring.)", ""]
    if kind == "class":
        members = describe_class_members(value)
        if members:
            lines += [*members, ""]
    link = source_link(value)
    if link:
        lines += [link, ""]
    return lines


def plan(modules: dict[str, types.ModuleType]) -> dict[str, list[tuple[str, Any, str, str | None]]]:
    """Per section:
    (name, value, kind, qualified name of the entry that describes it, or None for a module).
    """
    owner = canonical_sections(modules)
    order = {"class": 0, "function": 1, "module": 2, "data": 3, "alias": 4}
    sections: dict[str, list[tuple[str, Any, str, str | None]]] = {}
    described: dict[int, str] = {}  # object id -> qualified name of its entry
    for module_name, module in modules.items():
        rows = []
        for name in sorted(
            public_names(module), key=lambda n: (order[kind_of(getattr(module, n))], n.lower())
        ):
            value = getattr(module, name)
            kind = kind_of(value)
            if kind == "module":
                rows.append((name, value, kind, None))
                continue
            section = owner[id(value)]
            if section == module_name and id(value) not in described:
                described[id(value)] = f"{module_name}.{name}"
            rows.append(
                (name, value, kind, None if section != module_name else f"{module_name}.{name}")
            )
        sections[module_name] = rows
    # Second pass: rows that only refer to an entry described elsewhere
    # (another section, or another name).
    for rows in sections.values():
        for i, (name, value, kind, qualified) in enumerate(rows):
            if kind != "module" and (qualified is None or described.get(id(value)) != qualified):
                rows[i] = (name, value, kind, "->" + described[id(value)])
    return sections


def generate() -> str:
    modules = {name: importlib.import_module(name) for name in MODULES}
    sections = plan(modules)
    # GitHub numbers repeated anchors (scratchnet.Tensor, scratchnet.tensor):
    # -1, -2 ... in page order.
    slugs: dict[str, str] = {}
    seen: dict[str, int] = {}
    headings = ["API reference"]
    for module_name, rows in sections.items():
        headings.append(module_name)
        headings += [q for _, _, kind, q in rows if q is not None and not q.startswith("->")]
    for heading in headings:
        base = anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        slugs.setdefault(heading, base if count == 0 else f"{base}-{count}")

    out = [
        "# API reference",
        "",
        "<!-- Generated by `python docs/gen_api.py` from the "
        "docstrings; edit the docstrings, not this file. -->",
        "",
        "Every public name of scratchnet, module by module, generated from the docstrings by",
        "[`docs/gen_api.py`](gen_api.py) (`python "
        "docs/gen_api.py --check` says whether this page is",
        "up to date). A name exported from several modules "
        "is described once, where it is defined, and",
        "linked from the others: `scratchnet.summary` is "
        "`scratchnet.analysis.summary`. Each entry links",
        "to its source; the source is the best documentation there is.",
        "",
        "Modules: " + " · ".join(f"[`{m}`](#{slugs[m]})" for m in MODULES),
        "",
    ]
    for module_name, rows in sections.items():
        module = modules[module_name]
        head = summary_of(inspect.getdoc(module) or "")
        out += [
            f"## {module_name}",
            "",
            inline(" ".join(head.split())),
            "",
            f"Source: {module_link(module)}",
            "",
        ]
        out += ["| name | kind | description |", "| --- | --- | --- |"]
        entries: list[str] = []
        for name, value, kind, qualified in rows:
            if kind == "module":
                target = value.__name__
                out.append(f"| `{name}` | module | submodule, see [`{target}`](#{slugs[target]}) |")
                continue
            summary = (
                cell(summary_of(inspect.getdoc(value) or ""))
                if kind in ("class", "function")
                else ""
            )
            if kind == "alias":
                summary = f"`{value.__module__}.{value.__name__}`"
            if kind == "data":
                summary = f"`{type(value).__name__}` constant"
            if qualified.startswith("->"):
                target = qualified[2:]
                summary = f"same as [`{target}`](#{slugs[target]})" + (
                    f": {summary}" if summary else ""
                )
                out.append(f"| `{name}` | {kind} | {summary} |")
                continue
            out.append(f"| [`{name}`](#{slugs[qualified]}) | {kind} | {summary} |")
            entries += describe(qualified, value, module)
        out += ["", *entries]
    text = "\n".join(out).rstrip() + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that docs/api.md is up to date"
    )
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        if OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text:
            print(f"{OUTPUT.relative_to(ROOT)} is up to date")
            return 0
        print(
            f"{OUTPUT.relative_to(ROOT)} is out of date: run python docs/gen_api.py",
            file=sys.stderr,
        )
        return 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(text):,} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
