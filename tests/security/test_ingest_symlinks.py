"""Probe: ``chorus context ingest DIR`` reads only what lies inside DIR. A symlink (to a file or a folder) that
leads out of it is refused with an error naming the link, and nothing is ingested; a link that stays inside is
read once, as its target."""

from __future__ import annotations

from pathlib import Path

from tests.security.conftest import Target


async def _titles(target: Target) -> set[str]:
    async with target.client("tara") as http:
        return {d["title"] for d in (await http.get("/api/admin/documents")).json()}


async def test_ingest_refuses_symlinks_that_leave_the_folder(target: Target, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.md").write_text("# Payroll secrets\nEveryone's salary.\n")
    (outside / "deep" / "keys.md").write_text("# Server keys\nThe root password.\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "plan.md").write_text("# Open plan\nWe ship in May.\n")
    for link, to in (("secret.md", outside / "secret.md"), ("more", outside / "deep")):
        (folder / link).symlink_to(to)
        done = await target.chorus("context", "ingest", str(folder), "--label", "internal")
        assert done.returncode != 0, done.stdout
        assert str(folder / link) in done.stderr and "outside" in done.stderr, done.stderr
        (folder / link).unlink()
        titles = await _titles(target)
        assert not {"Payroll secrets", "Server keys", "Open plan"} & titles, titles
    (folder / "again.md").symlink_to(folder / "plan.md")  # inside the folder: allowed
    done = await target.chorus("context", "ingest", str(folder), "--label", "internal")
    assert done.returncode == 0, done.stderr
    assert "Open plan" in await _titles(target)
