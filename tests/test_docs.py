"""The documentation works: its links resolve, its examples run, its API reference is complete.

* Every relative link and image in docs/**/*.md and README.md points to a file or folder that
  exists, and a ``#anchor`` into a Markdown file names one of its headings (GitHub's anchor rule).
* Every fenced code block whose info string is ``python run`` executes without error. The blocks of
  one page run in order in one namespace (like a notebook), in a temporary working directory.
* docs/api.md lists every public name of the modules it documents, in that module's section.
* Every file path and module that a lesson's docstring or a docs page names in code style (the
  "Read next" and "see" pointers) exists.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import io
import json
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HTML_SRC = re.compile(r"<(?:img|a)\s[^>]*?(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def split_fences(text: str) -> tuple[str, list[tuple[str, str, int]]]:
    """The page with its fenced code blocks blanked out; the blocks as (info string, code, line)."""
    prose, blocks = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        fence, info, start = match.group("fence"), match.group("info").strip(), i + 1
        body = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence) and not lines[i].strip().strip(fence[0])
        ):
            body.append(lines[i])
            i += 1
        blocks.append((info, "\n".join(body), start))
        prose.extend([""] * (len(body) + 2))
        i += 1
    return "\n".join(prose), blocks


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    return frozenset(github_anchors(path.read_text(encoding="utf-8")))


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page (repeats get -1, -2, ...)."""
    prose, _ = split_fences(text)
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose.splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2))  # a link keeps its text
        title = re.sub(r"<[^>]+>", "", title).replace("`", "").lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        count = counts.get(slug, 0)
        counts[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    anchors.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))  # explicit HTML anchors
    return anchors


def relative_links(page: Path) -> list[str]:
    prose, _ = split_fences(page.read_text(encoding="utf-8"))
    prose = re.sub(r"(`+).+?\1", "", prose)  # links inside inline code are examples, not links
    targets = LINK.findall(prose) + REFERENCE.findall(prose) + HTML_SRC.findall(prose)
    return [
        t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)
    ]  # no http:, mailto:


def runnable_blocks(page: Path) -> list[tuple[str, int]]:
    _, blocks = split_fences(page.read_text(encoding="utf-8"))
    return [(code, line) for info, code, line in blocks if info.split() == ["python", "run"]]


# --------------------------------------------------------------------------- links


def test_the_docs_exist():
    for name in ("index.md", "getting-started.md", "api.md", "labs-for-instructors.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"
    assert len(PAGES) > 15


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in relative_links(page):
        path_part, _, fragment = target.partition("#")
        resolved = page if not path_part else (page.parent / path_part).resolve()
        if not resolved.exists():
            shown = resolved.relative_to(ROOT) if ROOT in resolved.parents else resolved
            broken.append(f"{target} (no such file: {shown})")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors_of(resolved):
            broken.append(f"{target} (no heading with anchor #{fragment} in {resolved.name})")
    assert not broken, f"{page.relative_to(ROOT)} has broken links:\n  " + "\n  ".join(broken)


def test_link_checker_finds_broken_links(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# A title\n\n## Second `part`\n")
    page.write_text(
        "[ok](there.md) [ok](there.md#a-title) [ok](there.md#second-part) ![img](missing.png)\n"
        "[bad](there.md#nowhere) [web](https://example.org/x) `[not a link](nope.md)`\n"
        "```python\n[also not](nope.md)\n```\n"
    )
    assert relative_links(page) == [
        "there.md",
        "there.md#a-title",
        "there.md#second-part",
        "missing.png",
        "there.md#nowhere",
    ]
    assert github_anchors((tmp_path / "there.md").read_text()) == {"a-title", "second-part"}


# --------------------------------------------------------------------------- "Read next" pointers

# A file path or module named in ``code`` style: ``scratchnet/nn/conv.py``, `docs/lessons.md`,
# ``scratchnet.analysis.summary``. Markdown links are checked above; these are the pointers in prose
# ("Read next: ...", "see ...") that no link checker looks at.
POINTED_PATH = re.compile(
    r"`{1,2}((?:scratchnet|docs|tests|lessons|instructor|benchmarks)/[\w./-]*\w/?)[`:(\s#]"
)
POINTED_MODULE = re.compile(r"`{1,2}(scratchnet(?:\.[A-Za-z_]\w*)+)")


def pointer_texts() -> list[tuple[str, str]]:
    """(where, text): each lesson's docstring (its "Read next"), each docs page but the API list."""
    texts = []
    for path in sorted((ROOT / "scratchnet" / "lessons").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        texts.append((str(path.relative_to(ROOT)), doc))
    for page in PAGES:
        if page.name != "api.md":  # generated from the code: names, not pointers
            texts.append((str(page.relative_to(ROOT)), page.read_text(encoding="utf-8")))
    return texts


def resolves(dotted: str) -> bool:
    """True if ``dotted`` is a module, or a module and attributes: ``scratchnet.models.vgg16``."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            if i == len(parts) - 1:
                # The module may be there but need what this machine lacks (cupy_gpu needs
                # CuPy): then read its source for the name instead.
                with contextlib.suppress(ImportError):
                    spec = importlib.util.find_spec(".".join(parts[:i]))
                    if spec is not None and spec.origin:
                        return parts[i] in _top_level_names(Path(spec.origin))
            continue
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
        except AttributeError:
            return False
        return True
    return False


def _top_level_names(path: Path) -> set[str]:
    """The names a module's source defines at its top level (assignments, defs, classes)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def broken_pointers(where: str, text: str) -> list[str]:
    broken = [
        f"{where}: {path} (no such file)"
        for path in POINTED_PATH.findall(text)
        if not (ROOT / path).exists()
    ]
    broken += [
        f"{where}: {name} (no such module or name)"
        for name in POINTED_MODULE.findall(text)
        if not resolves(name)
    ]
    return broken


def test_read_next_pointers_name_files_and_modules_that_exist():
    texts = pointer_texts()
    checked = sum(len(POINTED_PATH.findall(t)) + len(POINTED_MODULE.findall(t)) for _, t in texts)
    assert checked > 100  # the lessons and the docs point at the code in many places
    broken = [b for where, text in texts for b in broken_pointers(where, text)]
    assert not broken, "pointers to nothing:\n  " + "\n  ".join(broken)


def test_pointer_checker_finds_a_wrong_pointer():
    text = (
        "Read next: ``scratchnet/models/vgg.py`` (the model), ``scratchnet/nn/layers.py``, "
        "``scratchnet.analysis.summary``, ``scratchnet.models.nothing_here``, `docs/lessons.md`."
    )
    assert broken_pointers("x", text) == [
        "x: scratchnet/nn/layers.py (no such file)",
        "x: scratchnet.models.nothing_here (no such module or name)",
    ]


# --------------------------------------------------------------------------- runnable examples

RUNNABLE = [(page, blocks) for page in PAGES if (blocks := runnable_blocks(page))]


def test_there_are_runnable_examples():
    assert len(RUNNABLE) >= 10, (
        "the convention is a fence opened with ```python run (see docs/index.md)"
    )


@pytest.mark.parametrize(
    "page, blocks", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p, _ in RUNNABLE]
)
def test_runnable_blocks_run(page, blocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever an example writes lands here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for code, line in blocks:
        name = f"{page.relative_to(ROOT)}:{line}"
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(code, name, "exec"), namespace)
            except Exception as error:
                pytest.fail(f"the runnable block at {name} raised {type(error).__name__}: {error}")


# --------------------------------------------------------------------------- the API reference

API_MODULES = [
    "scratchnet",
    "scratchnet.autograd",
    "scratchnet.nn",
    "scratchnet.nn.functional",
    "scratchnet.nn.init",
    "scratchnet.optim",
    "scratchnet.optim.lr_scheduler",
    "scratchnet.data",
    "scratchnet.train",
    "scratchnet.io",
    "scratchnet.analysis",
    "scratchnet.models",
    "scratchnet.viz",
    "scratchnet.cuda",
    "scratchnet.labs",
]


def public_names(module: types.ModuleType) -> list[str]:
    """``__all__``; without it, the non-underscore attributes that are not modules (for a plain
    module, only those it defines itself, not what it imports)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    is_package = hasattr(module, "__path__")
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
        and (is_package or getattr(value, "__module__", None) == module.__name__)
    ]


def api_sections() -> dict[str, str]:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\S+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("module_name", API_MODULES)
def test_api_reference_lists_every_public_name(module_name):
    section = api_sections().get(module_name)
    assert section is not None, (
        f"docs/api.md has no section '## {module_name}'; run python docs/gen_api.py"
    )
    module = importlib.import_module(module_name)
    names = public_names(module)
    assert names, f"{module_name} has no public names?"
    missing = [n for n in names if f"`{n}`" not in section and f"{module_name}.{n}" not in section]
    assert not missing, (
        f"docs/api.md does not list {module_name}.{missing}; run python docs/gen_api.py"
    )


def test_api_reference_has_no_stale_names():
    """Every entry heading names something that still exists."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    for qualified in re.findall(r"^### (scratchnet\S*)$", text, flags=re.MULTILINE):
        module_name, _, name = qualified.rpartition(".")
        module = importlib.import_module(module_name)
        assert hasattr(module, name), f"docs/api.md describes {qualified}, which no longer exists"


# ----------------------------------------------------------------------- numbers quoted from a run

NUMBERS_JSON = DOCS / "figures" / "demos" / "numbers.json"
# <!-- number: degradation/final_training_error/plain-56/mean -->65.6%
NUMBER = re.compile(
    r"<!--\s*number:\s*(?P<path>[^<>]+?)\s*-->\s*"
    r"(?P<shown>[-+]?\d[\d,]*(?:\.\d+)?)(?P<unit>%| points|x)?"
)


def quoted_numbers(text: str) -> list[tuple[str, str, str]]:
    """Every (path, number as shown, unit) a page quotes with a ``<!-- number: path -->`` marker."""
    return [(m["path"], m["shown"], m["unit"] or "") for m in NUMBER.finditer(text)]


def lookup(numbers: dict, path: str) -> float:
    value = numbers
    for key in path.split("/"):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return float(value)


def matches(value: float, shown: str, unit: str) -> bool:
    """``shown`` is ``value`` as printed (a rate as a percentage or percentage points, or the number
    itself), to the digits shown."""
    digits = len(shown.partition(".")[2])
    scaled = 100 * value if unit in ("%", " points") else value
    return round(scaled, digits) == float(shown.replace(",", ""))


def test_quoted_numbers_match_the_run():
    numbers = json.loads(NUMBERS_JSON.read_text())
    wrong, count = [], 0
    for page in PAGES:
        for path, shown, unit in quoted_numbers(page.read_text(encoding="utf-8")):
            count += 1
            try:
                value = lookup(numbers, path)
            except (KeyError, IndexError, TypeError, ValueError):
                wrong.append(f"{page.relative_to(ROOT)}: {path} is not in {NUMBERS_JSON.name}")
                continue
            if not matches(value, shown, unit):
                wrong.append(
                    f"{page.relative_to(ROOT)}: {path} is {value!r} in the run, "
                    f"the page says {shown}{unit}"
                )
    assert count >= 20, "the demo pages quote their numbers with <!-- number: path --> markers"
    assert not wrong, (
        "regenerate with python -m scratchnet.demos.make_docs_figures, then update:\n  "
        + "\n  ".join(wrong)
    )


def test_number_checker_catches_a_stale_number():
    text = (
        "<!-- number: a/b -->73.8% and <!-- number: a/c/1 -->176x and <!-- number: a/d -->0.095, "
    )
    text += "<!-- number: a/b -->+73.8 points, <!-- number: a/with space -->2.0"
    assert quoted_numbers(text) == [
        ("a/b", "73.8", "%"),
        ("a/c/1", "176", "x"),
        ("a/d", "0.095", ""),
        ("a/b", "+73.8", " points"),
        ("a/with space", "2.0", ""),
    ]
    assert matches(0.7382, "+73.8", " points")
    numbers = {"a": {"b": 0.7382, "c": [1.0, 176.4], "d": 0.0951}}
    assert matches(lookup(numbers, "a/b"), "73.8", "%") and not matches(0.7372, "73.8", "%")
    assert matches(lookup(numbers, "a/c/1"), "176", "x") and matches(
        lookup(numbers, "a/d"), "0.095", ""
    )
    assert not matches(0.0961, "0.095", "")
