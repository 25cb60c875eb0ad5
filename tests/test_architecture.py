"""Architecture rules that the import contracts (``lint-imports``) cannot see, checked on the source tree.

1. Services never import ``litestar``. Every module of the packages ``workspace``, ``sso``, ``channels``,
   ``personas`` (with its rooms: ``scenario/``, ``context/``, ``llm/``, ``runtime/``) and ``insights`` is a service
   module (rules and queries, no HTTP) unless it is part of the web edge, which is decided by its name: the stem is
   one of ``WEB_EDGE`` (``controllers``, ``pages``, ``domain``, ``app``, ``web``, ``middleware``, ``ws``,
   ``fanout``, ``telemetry``) or starts with one of them and ``_`` (``controllers_audit``, ``pages_admin``).
   Migrations are not checked. Any import counts: at module level, inside a function, under ``TYPE_CHECKING``.
2. No domain's SQL names a table owned by another domain. A table is owned by the top-level package whose
   ``tables.py`` declares it (``tablename=`` or Piccolo's snake-cased class name), or whose ``piccolo_migrations/``
   create it by raw SQL (``CREATE [VIRTUAL] TABLE``). A module names a table when one of its string literals that
   reads as SQL (it has ``SELECT``, ``INSERT``, ``UPDATE``, ``DELETE``, ``FROM`` or ``JOIN`` as a word; f-strings
   are read whole; docstrings are not SQL) has the table's name as a word, or when it imports the table's Piccolo
   class from the owner's ``tables`` module (an ORM query). A ``tables.py`` may import another domain's tables for
   its foreign keys. Another domain's rows are read through the owner's services. The exception is the kernel:
   ``KERNEL_TABLES``, the workspace's identity tables (who a member is: handle, kind, label, active; which
   workspace), which every domain joins to resolve the actors its rows name; ``workspace`` is the layer every
   domain stands on, so that is a dependency the import contract already allows. The audit trail is not kernel:
   it is read and written through ``workspace.audit`` only.
   ``ALLOWED_FOREIGN_TABLES`` lists today's violations; it can only shrink: an entry that is no longer needed
   fails the test until it is removed.

Each rule is a function of a root folder, so the tests below also point it at a small tree with a violation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("workspace", "sso", "channels", "personas", "insights")
WEB_EDGE = ("controllers", "pages", "domain", "app", "web", "middleware", "ws", "fanout", "telemetry")
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN)\b", re.IGNORECASE)
KERNEL_TABLES = frozenset({"chorus_member", "chorus_workspace"})
CREATE_TABLE = re.compile(r"\bCREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)", re.IGNORECASE)

# (module, table) pairs that read another domain's table today. Each goes once its module reads through the owner's
# services; the test fails on an entry that is no longer needed, so this list only shrinks.
ALLOWED_FOREIGN_TABLES: frozenset[tuple[str, str]] = frozenset()


def domain_modules(root: Path) -> Iterator[tuple[str, Path]]:
    """Every product module under ``root``'s domain packages (migrations left out), as (relative path, path)."""
    for domain in DOMAINS:
        for path in sorted((root / domain).rglob("*.py")):
            if "piccolo_migrations" not in path.relative_to(root).parts:
                yield path.relative_to(root).as_posix(), path


def is_web_edge(relative: str) -> bool:
    stem = Path(relative).stem
    return any(stem == name or stem.startswith(name + "_") for name in WEB_EDGE)


def _imported_modules(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """(module, imported names) for every import in ``tree``, wherever it sits."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, [alias.name for alias in node.names]


def litestar_in_services(root: Path) -> list[str]:
    """``path: module`` for every service module (rule 1) that imports litestar."""
    offenders = []
    for relative, path in domain_modules(root):
        if is_web_edge(relative):
            continue
        for module, _ in _imported_modules(ast.parse(path.read_text(), str(path))):
            if module.split(".")[0] == "litestar":
                offenders.append(f"{relative}: {module}")
    return offenders


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def table_owners(root: Path) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """({table: owning domain}, {(tables module, class name): table}) from ``tables.py`` and raw-SQL migrations."""
    owners: dict[str, str] = {}
    classes: dict[tuple[str, str], str] = {}
    for domain in DOMAINS:
        tables = root / domain / "tables.py"
        if tables.exists():
            for node in ast.parse(tables.read_text(), str(tables)).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                if not any(isinstance(b, ast.Name) and b.id == "Table" for b in node.bases):
                    continue
                name = next((kw.value.value for kw in node.keywords if kw.arg == "tablename"
                             and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)),
                            _snake(node.name))
                owners[name] = domain
                classes[(f"{domain}.tables", node.name)] = name
        for migration in sorted((root / domain / "piccolo_migrations").glob("*.py")):
            for name in CREATE_TABLE.findall(migration.read_text()):
                owners.setdefault(name, domain)
    return owners, classes


def _sql_texts(tree: ast.AST) -> Iterator[str]:
    """Every string literal that reads as SQL: f-strings whole, docstrings and other bare strings left out."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))
        elif isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.JoinedStr):
            text = "".join(p.value if isinstance(p, ast.Constant) and isinstance(p.value, str) else "{}"
                           for p in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        if text is not None and SQL_WORDS.search(text):
            yield text


def foreign_tables(root: Path) -> set[tuple[str, str]]:
    """(module, table) for every module whose SQL or ORM imports name a table another domain owns (rule 2)."""
    owners, classes = table_owners(root)
    if not owners:
        return set()
    names = re.compile(r"\b(" + "|".join(sorted(map(re.escape, owners), key=len, reverse=True)) + r")\b")
    found: set[tuple[str, str]] = set()
    for relative, path in domain_modules(root):
        domain = relative.split("/")[0]
        tree = ast.parse(path.read_text(), str(path))
        for text in _sql_texts(tree):
            found.update((relative, t) for t in names.findall(text) if owners[t] != domain and not _kernel(owners, t))
        if Path(relative).name == "tables.py":
            continue  # foreign keys to another domain's tables are schema, not reads
        for module, imported in _imported_modules(tree):
            for name in imported:
                table = classes.get((module, name))
                if table is not None and owners[table] != domain and not _kernel(owners, table):
                    found.add((relative, table))
    return found


def _kernel(owners: dict[str, str], table: str) -> bool:
    return table in KERNEL_TABLES and owners[table] == "workspace"


def compare(found: set[tuple[str, str]], allowed: frozenset[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(new violations, allowlist entries no longer needed), each as ``module reads table`` lines."""
    new = [f"{m} reads {t}" for m, t in sorted(found - allowed)]
    stale = [f"{m} reads {t}" for m, t in sorted(allowed - found)]
    return new, stale


# -- the rules on this repository -------------------------------------------------------------------------------

def test_the_rules_read_the_real_packages() -> None:
    scanned = {relative for relative, _ in domain_modules(ROOT)}
    assert {"channels/services_messages.py", "personas/context/retrieval.py", "personas/runtime/scheduler.py",
            "insights/services_mining.py", "workspace/audit.py"} <= scanned
    owners, _ = table_owners(ROOT)
    assert owners["chorus_message"] == "channels" and owners["chorus_member"] == "workspace"
    assert owners["personas_chunk_fts"] == "personas"  # created by raw SQL in a migration


def check_services(root: Path) -> None:
    offenders = litestar_in_services(root)
    assert not offenders, "services hold rules and must not import litestar:\n" + "\n".join(offenders)


def check_tables(root: Path, allowed: frozenset[tuple[str, str]]) -> None:
    new, stale = compare(foreign_tables(root), allowed)
    assert not new, ("a module reads a table another domain owns; read it through the owner's services "
                     "instead:\n" + "\n".join(new))
    assert not stale, ("these reads are gone: remove them from ALLOWED_FOREIGN_TABLES in tests/test_architecture.py "
                       "(the list only shrinks):\n" + "\n".join(stale))


def test_services_never_import_litestar() -> None:
    check_services(ROOT)


def test_no_domain_reads_another_domains_tables() -> None:
    check_tables(ROOT, ALLOWED_FOREIGN_TABLES)


# -- the rules can fail -----------------------------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_service_importing_litestar_fails(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "channels/services.py": "from litestar import get\n",
        "channels/controllers.py": "from litestar import get\n",  # the web edge may
        "channels/controllers_admin.py": "import litestar\n",
        "personas/context/documents.py": "def f():\n    import litestar.status_codes\n",
        "personas/runtime/runs.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                    "    from litestar import Request\n",
        "personas/runtime/pages.py": "from litestar import Router\n",
        "insights/scoring.py": "import litestar_extra_thing\nimport json\n",  # another package that merely starts so
        "personas/piccolo_migrations/m1.py": "import litestar\n",  # migrations are not checked
    })
    assert sorted(litestar_in_services(root)) == [
        "channels/services.py: litestar", "personas/context/documents.py: litestar.status_codes",
        "personas/runtime/runs.py: litestar"]
    with pytest.raises(AssertionError, match="must not import litestar"):
        check_services(root)


def test_a_new_foreign_table_read_fails_and_a_stale_allowance_too(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "channels/tables.py": "from piccolo.table import Table\nfrom workspace.tables import Member\n"
                              "class Channel(Table, tablename='chorus_channel'):\n    pass\n"
                              "class ChannelMember(Table):\n    pass\n",
        "workspace/tables.py": "from piccolo.table import Table\nclass Member(Table, tablename='chorus_member'):\n"
                               "    pass\n",
        "personas/piccolo_migrations/m1.py": "SQL = 'CREATE VIRTUAL TABLE IF NOT EXISTS personas_fts USING fts5(x)'\n",
        "channels/services.py": '"""Reads chorus_channel and chorus_member (a docstring is not SQL)."""\n'
                                "OWN = 'SELECT id FROM chorus_channel JOIN channel_member ON 1 = 1'\n"
                                "COOKIE = 'chorus_member'  # not SQL\n"
                                "def f(ids):\n    return f'SELECT 1 FROM personas_fts WHERE rowid IN ({ids})'\n",
        "insights/services_mining.py": "from channels.tables import Channel\n"
                                       "Q = ('SELECT m.id FROM chorus_channel c '\n"
                                       "     'JOIN chorus_member m ON m.id = c.owner')\n",
        "insights/services_other.py": "def g(n):\n    return f'UPDATE chorus_channel_members SET x = {n}'\n",
        "personas/runtime/scheduler.py": "def h(t):\n    return f'SELECT * FROM channel_member WHERE t = {t}'\n",
    })
    found = foreign_tables(root)
    # chorus_member is the kernel's (workspace): every domain may join it
    assert found == {("channels/services.py", "personas_fts"), ("insights/services_mining.py", "chorus_channel"),
                     ("personas/runtime/scheduler.py", "channel_member")}
    allowed = frozenset({("insights/services_mining.py", "chorus_channel"),
                         ("personas/runtime/scheduler.py", "channel_member"),
                         ("insights/services_mining.py", "personas_turn")})  # no longer read: must go
    new, stale = compare(found, allowed)
    assert new == ["channels/services.py reads personas_fts"]
    assert stale == ["insights/services_mining.py reads personas_turn"]
    with pytest.raises(AssertionError, match=r"channels/services\.py reads personas_fts"):
        check_tables(root, allowed)
    with pytest.raises(AssertionError, match="these reads are gone"):
        check_tables(root, allowed | {("channels/services.py", "personas_fts")})
    check_tables(root, frozenset(found))
