"""Scenario checks, documents: inline ones (``body``) and files (``path``, a glob inside the scenario's folder),
each with a label; titles come from ``title``, else the first '# ' heading, else the file name.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from personas.scenario.check_labels import LabelChecks
from personas.scenario.model import Document
from personas.scenario.reader import MISSING, LineMap
from workspace.labels import Label

_HEADING = re.compile(r"^# +(\S.*?)\s*#*\s*$", re.MULTILINE)
_DOCUMENT = (("label",), ("title", "body", "path"))


class DocumentChecks(LabelChecks):
    """The ``documents`` section: one :class:`Document` per inline entry or matched file."""

    base_dir: Path
    """Where ``path`` globs are resolved (the scenario file's folder)."""

    def documents(self, top: LineMap) -> list[Document]:
        out: list[Document] = []
        for m, at in self.items(top, "documents", ""):
            self.keys(m, at, _DOCUMENT)
            label = self.label(m, at)
            title = self.get(m, "title", at, "string", None)
            body = self.get(m, "body", at, "string", None)
            pattern = self.get(m, "path", at, "string", None)
            if "body" in m and "path" in m:
                self.add(m.line, at, "a document has either 'body' (inline text) or 'path' (files), not both")
                continue
            if "body" not in m and "path" not in m:
                self.add(m.line, at, "a document needs 'body' (inline text) or 'path' (a file or glob)")
                continue
            if label is None or title is MISSING:
                continue
            if isinstance(body, str):
                found = title if isinstance(title, str) else heading(body)
                if found is None:
                    self.add(
                        m.line, f"{at}.title", "an inline document needs a 'title' (or a '# ' heading in its body)"
                    )
                    continue
                out.append(Document(found.strip(), body, label, at))
            elif isinstance(pattern, str):
                out.extend(self.files(m, at, pattern.strip(), title, label))
        return out

    def files(self, m: LineMap, at: str, pattern: str, title: str | None, label: Label) -> list[Document]:
        line, where = self.line(m, "path"), f"{at}.path"
        pure = PurePosixPath(pattern)
        if pure.is_absolute() or Path(pattern).is_absolute() or ".." in pure.parts:
            self.add(line, where, f"path {pattern!r} must be relative to the scenario file and stay in its folder")
            return []
        base = self.base_dir.resolve()
        try:
            matches = sorted(p for p in base.glob(pattern) if p.is_file())
        except (ValueError, OSError) as exc:
            self.add(line, where, f"path {pattern!r} is not a usable glob: {exc}")
            return []
        inside = [p for p in matches if p.resolve().is_relative_to(base)]
        if not inside:
            self.add(line, where, f"path {pattern!r} matches no file under {self.base_dir}")
            return []
        if title is not None and len(inside) > 1:
            self.add(
                self.line(m, "title"),
                f"{at}.title",
                f"'title' names a single document but path {pattern!r} matches {len(inside)} files; drop the "
                "title (each file's first '# ' heading is used) or list the files separately",
            )
            return []
        docs: list[Document] = []
        for file in inside:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.add(line, where, f"cannot read {file.relative_to(base).as_posix()}: {exc}")
                continue
            name = title or heading(text) or file.stem
            docs.append(Document(name.strip(), text, label, file.relative_to(base).as_posix(), file))
        return docs


def heading(text: str) -> str | None:
    """The first '# ' heading anywhere in ``text`` (a file document's title), or None."""
    found = _HEADING.search(text)
    return found.group(1) if found else None
