"""Probes: every HTML page is served with a Content-Security-Policy that allows no inline script (and no inline
style), cannot be framed, and is not sniffed into another type. The probe crawls the pages as someone holding
every role at the top clearance (following links from the home page), then the pages anonymous visitors get (dev
login, sign-in refusals, not-found pages, the API docs), and checks each response's headers and its markup: no
inline ``<script>`` or ``<style>`` blocks, no ``on*=`` handlers, no ``style=`` attributes, no ``javascript:`` URLs.
The API docs page is Litestar's: its inline blocks are allowed by their hashes only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import deque
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

from tests.security.conftest import Target
from tests.sso.helpers import human_session

CRAWL_LIMIT = 150
PER_SHAPE = 3
"""Pages of one shape (``/admin/agents/N``) visited at most: sixty agent pages say no more than three."""
SKIP = ("/api/", "/auth/logout", "/schema", "/static/")
_HREF = re.compile(r'''(?:href|src|action)\s*=\s*["']([^"']+)["']''', re.IGNORECASE)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
_STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def check_page(path: str, res: httpx.Response, *, docs: bool = False) -> list[str]:
    """What is wrong with one HTML response (empty when nothing is)."""
    problems = []
    h = res.headers
    csp = directives(h.get("content-security-policy", ""))
    if not csp:
        return [f"{path}: no Content-Security-Policy"]
    script = csp.get("script-src", csp.get("default-src", []))
    style = csp.get("style-src", csp.get("default-src", []))
    for name, sources in (("script-src", script), ("style-src", style)):
        if not sources or any(s in {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"}
                              for s in sources):
            problems.append(f"{path}: {name} {' '.join(sources) or '(missing)'} allows inline or foreign code")
    if csp.get("frame-ancestors") != ["'none'"]:
        problems.append(f"{path}: frame-ancestors is {csp.get('frame-ancestors')}, not 'none'")
    if csp.get("object-src") != ["'none'"] or csp.get("base-uri") not in (["'none'"], ["'self'"]):
        problems.append(f"{path}: object-src/base-uri not locked down")
    if h.get("x-content-type-options", "").lower() != "nosniff":
        problems.append(f"{path}: X-Content-Type-Options is not nosniff")
    if h.get("referrer-policy", "").lower() not in {"no-referrer", "same-origin", "strict-origin",
                                                     "strict-origin-when-cross-origin"}:
        problems.append(f"{path}: Referrer-Policy {h.get('referrer-policy')!r}")
    html = res.text
    inline_scripts = _INLINE_SCRIPT.findall(html)
    inline_styles = _STYLE_BLOCK.findall(html)
    if docs:
        problems += [f"{path}: an inline script not allowed by its hash" for s in inline_scripts
                     if sha256(s) not in script]
        problems += [f"{path}: an inline style not allowed by its hash" for s in inline_styles
                     if sha256(s) not in style]
    else:
        problems += [f"{path}: inline <script> ({s.strip()[:60]!r})" for s in inline_scripts]
        problems += [f"{path}: inline <style> block" for _ in inline_styles]
        if _STYLE_ATTR.search(html):
            problems.append(f"{path}: style= attribute ({_STYLE_ATTR.search(html).group(0)[:80]!r})")  # type: ignore[union-attr]
    if _HANDLER.search(html):
        problems.append(f"{path}: inline event handler ({_HANDLER.search(html).group(0)[:80]!r})")  # type: ignore[union-attr]
    if re.search(r'''(?:href|src|action)\s*=\s*["']\s*javascript:''', html, re.IGNORECASE):
        problems.append(f"{path}: javascript: URL")
    return problems


def links(base: str, html: str) -> list[str]:
    found = []
    for raw in _HREF.findall(html):
        url, _ = urldefrag(urljoin(base, raw.replace("&amp;", "&")))
        parts = urlsplit(url)
        if parts.netloc == urlsplit(base).netloc and parts.scheme in {"http", "https"}:
            found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


async def crawl(http: httpx.AsyncClient, starts: list[str]) -> tuple[dict[str, httpx.Response], list[str]]:
    """Breadth-first over same-origin GET links; returns the HTML responses and the other assets referenced."""
    seen: set[str] = set(starts)
    shapes: dict[str, int] = {}
    queue = deque(starts)
    pages: dict[str, httpx.Response] = {}
    assets: set[str] = set()
    while queue and len(pages) < CRAWL_LIMIT:
        path = queue.popleft()
        res = await http.get(path)
        if not res.headers.get("content-type", "").startswith("text/html"):
            continue
        pages[path] = res
        for link in links(str(res.url), res.text):
            if link.startswith("/static/"):
                assets.add(link.split("?")[0])
            if link in seen or link.startswith(SKIP) or "export" in link:
                continue
            seen.add(link)
            shape = re.sub(r"\d+", "N", link)
            shapes[shape] = shapes.get(shape, 0) + 1
            if shapes[shape] > PER_SHAPE:
                continue
            queue.append(link)
    return pages, sorted(assets)


async def test_every_page_a_signed_in_person_reaches_carries_the_headers(target: Target) -> None:
    everyone = await human_session("olga", ("admin", "security", "employee"), target.top_label,
                                   workspace_id=target.workspace_id)
    starts = ["/", "/channels", "/insights", "/admin/agents", "/admin/roles", "/admin/import", "/admin/runs",
              "/security/audit", "/security/verify", "/security/blocked", "/security/reads",
              f"/admin/agents/{target.ceo['member_id']}", "/no/such/page"]
    async with target.server.client(cookies=everyone.cookies, headers={"accept": "text/html"}) as http:
        pages, assets = await crawl(http, starts)
        problems = [p for path, res in pages.items() for p in check_page(path, res)]
        for asset in assets:
            res = await http.get(asset)
            if res.status_code != 200:
                problems.append(f"{asset}: {res.status_code}")
            if res.headers.get("x-content-type-options", "").lower() != "nosniff":
                problems.append(f"{asset}: X-Content-Type-Options is not nosniff")
    assert len(pages) >= 20, f"the crawl reached only {sorted(pages)}"
    assert {"/", "/channels", "/admin/agents", "/security/audit"} <= set(pages)
    assert any(p.startswith("/channels/") for p in pages) and any(p.startswith("/admin/agents/") for p in pages)
    assert "/static/chorus.css" in assets
    assert not problems, "\n".join(problems)


async def test_pages_for_anonymous_visitors_carry_the_headers(target: Target) -> None:
    problems: list[str] = []
    html: list[str] = []
    async with target.client(headers={"accept": "text/html"}) as http:
        for path in ("/auth/dev", "/auth/dev?next=/admin/agents", "/auth/login", "/no/such/page"):
            res = await http.get(path)
            if res.headers.get("content-type", "").startswith("text/html"):
                html.append(path)
                problems += check_page(path, res)
            elif res.headers.get("x-content-type-options", "").lower() != "nosniff":
                problems.append(f"{path}: X-Content-Type-Options is not nosniff ({res.status_code})")
        bad_login = await http.post("/auth/dev", data={"handle": "", "clearance": "nope"})
        if bad_login.headers.get("content-type", "").startswith("text/html"):
            problems += check_page("POST /auth/dev", bad_login)
        for path in ("/schema", "/schema/swagger"):
            res = await http.get(path)
            if res.headers.get("content-type", "").startswith("text/html"):
                problems += check_page(path, res, docs=True)
        api = await http.get("/healthz")
        if api.headers.get("x-content-type-options", "").lower() != "nosniff":
            problems.append("/healthz: X-Content-Type-Options is not nosniff")
    assert "/auth/dev" in html
    assert not problems, "\n".join(problems)


def test_the_probe_sees_what_it_looks_for() -> None:
    """The checks themselves can fail: a page with each fault is caught."""

    def response(html: str, **headers: Any) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html", **headers}, text=html)

    good = {"content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
                                       "base-uri 'none'; frame-ancestors 'none'",
            "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
    assert check_page("/", response("<p>ok</p><script src='/static/x.js'></script>", **good)) == []
    assert check_page("/", response("<p>ok</p>"))
    for html in ("<script>alert(1)</script>", "<style>p{}</style>", '<p style="color:red">', '<a onclick="x()">',
                 '<a href="javascript:x()">'):
        assert check_page("/", response(html, **good)), html
    lax = {**good, "content-security-policy": good["content-security-policy"] + "; script-src 'self' 'unsafe-inline'"}
    assert check_page("/", response("<p>ok</p>", **lax))
    framed = {**good, "content-security-policy": good["content-security-policy"].replace("'none'", "'self'")}
    assert check_page("/", response("<p>ok</p>", **framed))
