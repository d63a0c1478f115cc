"""The call reference: docs/calls.md lists every call, the README links it, and every
call's doc in helper/calls.toml says what the call does and what it raises.

Freshness of docs/calls.md against the table is test_spec_sync's job
(helper/gen_calls.py --check); here the content is checked.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from alcovepy import _spec

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "helper" / "calls.toml"
REFERENCE = ROOT / "docs" / "calls.md"
README = ROOT / "README.md"
SOURCES = ROOT / "helper" / "calls"

# Calls whose helper code never reports an errno: pure queries, and calls that cannot fail
# (their wrong arguments are TypeError/ValueError, which the module docstrings cover).
NO_ERRNO_PATH = {
    "version": "a constant string",
    "getpid": "getpid(2) cannot fail",
    "getuid": "getuid(2) cannot fail",
    "getgid": "getgid(2) cannot fail",
    "getpgrp": "getpgrp(2) cannot fail",
    "exit": "exit(3) does not return",
    "environ": "reads environ",
    "getenv": "None when unset",
    "getopt": "the option name is checked before sending",
    "cpid": "the loop's own table",
    "getcpid": "None for an unknown child or field",
    "setproctitle": "writes the process's own memory",
    "errno_id": "None for an unknown value",
    "alloc": "builds a buffer; bad shapes are ValueError",
    **{c.name: "a look-up: None for an unknown name" for c in _spec.CALLS if c.name.endswith("_constant")},
}
# Calls whose C library call is checked, but cannot fail with the arguments the helper gives it.
UNREACHABLE_ERRNO = {
    "gethostname": "the buffer is HOST_NAME_MAX + 1, so no ENAMETOOLONG",
    "getresuid": "only EFAULT, and the pointers are the helper's",
    "getresgid": "only EFAULT, and the pointers are the helper's",
    "getgroups": "sized by a first call; EINVAL only if the groups grow in between",
    "clearenv": "glibc's clearenv always returns 0",
}
# Calls that can fail with an errno but whose doc does not say so yet (doc text to add).
MISSING_RAISES: dict[str, str] = {}  # call -> the doc text it lacks (xfail until added)
# "Raises ...Error", "raises the child's errno" or "Raises as <call>": names what a failure raises.
RAISES = re.compile(r"\b[Rr]aises\b[^.]*?\b(\w+Error|errno)\b|\bRaises as (\w+)\b")


def table_docs() -> dict[str, str]:
    with TABLE.open("rb") as f:
        return {row["name"]: row["doc"] for row in tomllib.load(f)["call"]}


DOCS = table_docs()


def sections(text: str) -> dict[str, str]:
    """The '## name' sections of a markdown file, by heading."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_table_read_here_is_the_package_table() -> None:
    """Every call the package has has a doc here, and no other."""
    assert list(DOCS) == [c.name for c in _spec.CALLS]


def test_reference_lists_every_call_with_its_doc() -> None:
    """docs/calls.md has a summary row and a section per call, holding the call's doc."""
    text = REFERENCE.read_text()
    found = sections(text)
    for call in _spec.CALLS:
        assert f"| [`{call.name}`](#{call.name}) |" in text, f"no summary row for {call.name}"
        assert call.name in found, f"no section for {call.name}"
        assert DOCS[call.name] in found[call.name], f"the section of {call.name} lacks its doc"
        assert f"await drv.{call.name}(pipeline" in found[call.name]
    assert set(found) - {"Constant families"} == {c.name for c in _spec.CALLS}


def test_reference_lists_every_constant_family() -> None:
    """The reference's last section names every constant family with its size."""
    families = sections(REFERENCE.read_text())["Constant families"]
    for family, names in _spec.CONSTANT_FAMILIES.items():
        assert f"- **{family}** ({len(names)} names)" in families, family


def test_reference_anchors_resolve() -> None:
    """Every '(#name)' link in docs/calls.md points at a section of it."""
    text = REFERENCE.read_text()
    found = sections(text)
    anchors = re.findall(r"\]\(#([\w-]+)\)", text)
    assert anchors
    assert [a for a in anchors if a not in found] == []


def test_readme_links_the_reference() -> None:
    """README.md points readers to docs/calls.md, and the file exists."""
    assert re.search(r"\]\(docs/calls\.md\)", README.read_text()), "README.md does not link docs/calls.md"
    assert REFERENCE.is_file()


BSD_ONLY = {"jail", "pledge", "unveil", "procctl"}


def test_readme_calls_section_names_real_calls() -> None:
    """The README's summary names only calls of the table, one of each group at least, and
    says the BSD-only calls are left out (which must indeed not be calls)."""
    found = sections(README.read_text())
    assert "Calls" in found, "README.md has no '## Calls' section"
    words = set(re.findall(r"`([a-z][a-z0-9_]*)`", found["Calls"]))
    assert words - set(DOCS) - BSD_ONLY == {"undef"}, "names that are not calls"
    assert words >= BSD_ONLY
    assert not BSD_ONLY & set(DOCS)
    assert not {n for n in DOCS if n.startswith("cap_")}
    assert {"clone", "mount", "setresuid", "kill", "open", "socket", "errno_id"} <= words


@pytest.mark.parametrize("name", list(DOCS))
def test_every_doc_says_what_the_call_does(name: str) -> None:
    """A doc names the man page it follows or says in a few words what the call does;
    it ends a sentence and has no placeholders."""
    doc = DOCS[name]
    assert doc == doc.strip()
    assert re.match(rf"{name}\(\d\)", doc) or len(doc.split()) >= 4, doc
    assert doc.endswith((".", ")")), doc
    assert doc[0].isupper() or doc.startswith(f"{name}("), doc
    assert not re.search(r"\b(TODO|XXX|FIXME|TBD)\b", doc), doc


def raises_params() -> list[object]:
    params: list[object] = []
    for name in DOCS:
        if name in NO_ERRNO_PATH or name in UNREACHABLE_ERRNO:
            continue
        marks = []
        if name in MISSING_RAISES:
            reason = f"helper/calls.toml: the doc of {name} does not say what it raises; add: {MISSING_RAISES[name]}"
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.mark.parametrize("name", raises_params())
def test_every_call_that_can_fail_names_what_it_raises(name: str) -> None:
    """A call that can fail with an errno says which exceptions ("Raises ...Error"),
    or that it raises as another call whose doc names them."""
    found = RAISES.search(DOCS[name])
    assert found, DOCS[name]
    if found.group(2):
        assert found.group(2) in DOCS, f"{name} raises as {found.group(2)}, which is no call"
        other = RAISES.search(DOCS[found.group(2)])
        assert other, f"{name} raises as {found.group(2)}, whose doc names nothing"
        assert other.group(1), "raises as a call that itself raises as another"


def test_the_cannot_fail_lists_are_honest() -> None:
    """The exempt calls exist; those said to have no errno path have none in their C source,
    those said to be unreachable do check one, and no exempt doc claims to raise."""
    for name in (*NO_ERRNO_PATH, *UNREACHABLE_ERRNO, *MISSING_RAISES):
        assert name in DOCS, f"{name} is not a call"
    assert not set(NO_ERRNO_PATH) & set(UNREACHABLE_ERRNO)
    assert not (set(NO_ERRNO_PATH) | set(UNREACHABLE_ERRNO)) & set(MISSING_RAISES)
    for name in NO_ERRNO_PATH:
        source = (SOURCES / f"{name}.c").read_text()
        assert "AH_ST_ERRNO" not in source, f"{name} can report an errno: document it and drop it from the list"
    for name in UNREACHABLE_ERRNO:
        assert "AH_ST_ERRNO" in (SOURCES / f"{name}.c").read_text(), f"{name} has no errno path: move it"
    for name in (*NO_ERRNO_PATH, *UNREACHABLE_ERRNO):
        assert not RAISES.search(DOCS[name]), f"{name} is exempt but its doc says it raises"
