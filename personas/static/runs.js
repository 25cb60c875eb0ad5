// The runs page: keeps the runs table current from /admin/runs/state (every 2 s while a run is active, every 10 s
// otherwise) by changing its cells in place. Nothing else on the page is touched, so the start and budget forms keep
// what the admin typed. No inline script, no dependencies.
(function () {
  "use strict";
  var table = document.getElementById("runs");
  if (!table) return;
  var body = table.tBodies[0];
  var wrap = document.getElementById("runs-wrap");
  var updated = document.getElementById("runs-updated");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = tokenMeta ? tokenMeta.content : "";
  var FINAL = ["completed", "stopped", "over_budget", "failed"];
  var FIELDS = ["status", "progress", "turns", "messages", "blocked", "tokens", "cost", "coverage", "stop"];

  // The notice about what was just done is for this visit only: a reload must not repeat it.
  var notice = document.getElementById("notice");
  if (/[?&]done=/.test(location.search)) history.replaceState(null, "", location.pathname);
  var close = document.getElementById("notice-close");
  if (close && notice) close.addEventListener("click", function () { notice.remove(); });

  function n(x) { return Number(x || 0).toLocaleString("en-US"); }
  function money(x, places) { return "$" + Number(x || 0).toFixed(places); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function when(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }
  function coverage(c) {
    if (!c) return "not reported";
    if (!c.chunks) return "no passages to read";
    return n(c.read) + " of " + n(c.chunks) + " passages read (" + Math.round(100 * c.read / c.chunks) + "%), " +
      n(c.read_by_two_roles) + " by two roles or more";
  }
  function set(cell, text) { if (cell.textContent !== text) cell.textContent = text; }

  function fill(row, r) {
    var cells = {};
    FIELDS.forEach(function (f) { cells[f] = row.querySelector('[data-field="' + f + '"]'); });
    var done = FINAL.indexOf(r.status) >= 0;
    var status = r.status + (r.stop_requested && r.status === "running" ? " (stopping)" : "");
    if (cells.status.dataset.shown !== status + "|" + (r.error || "")) {
      cells.status.dataset.shown = status + "|" + (r.error || "");
      cells.status.textContent = status;
      if (r.error) { cells.status.appendChild(el("br")); cells.status.appendChild(el("span", "small bad", r.error)); }
    }
    var bar = cells.progress.querySelector("progress");
    if (r.mode === "rounds") { bar.max = Math.max(1, r.rounds); bar.value = r.rounds_done; }
    else if (done) { bar.max = 1; bar.value = 1; }
    set(cells.progress.querySelector(".rounds"), r.rounds_done +
      (r.mode === "rounds" ? " / " + r.rounds : " (continuous)") + " rounds");
    set(cells.turns, n(r.turns));
    set(cells.messages, n(r.messages));
    set(cells.blocked, String(r.blocked));
    set(cells.tokens, n(r.tokens_in + r.tokens_out) + (r.max_tokens ? " / " + n(r.max_tokens) : ""));
    set(cells.cost, money(r.cost, 4) + (r.max_cost ? " / " + money(r.max_cost, 2) : ""));
    if (r.coverage !== undefined || !cells.coverage.textContent) set(cells.coverage, coverage(r.coverage));
    var form = cells.stop.querySelector("form");
    if ((done || r.stop_requested) && form) form.remove();
    if (!done && !r.stop_requested && !form) {
      form = el("form", "inline");
      form.method = "post";
      form.action = "/admin/runs/" + r.id + "/stop";
      var token = el("input");
      token.type = "hidden"; token.name = "csrf_token"; token.value = csrf;
      form.appendChild(token);
      var button = el("button", "danger", "Stop");
      button.type = "submit";
      form.appendChild(button);
      cells.stop.appendChild(form);
    }
  }

  function newRow(r) {
    var row = el("tr");
    row.dataset.run = r.id;
    var head = el("th");
    head.scope = "row";
    head.appendChild(document.createTextNode("#" + r.id + " "));
    head.appendChild(el("span", "small muted", (r.scenario || "workspace") + " \u00B7 " + r.agents + " agents \u00B7 seed " +
      r.seed + " \u00B7 " + r.provider + " \u00B7 " + when(r.created_at)));
    row.appendChild(head);
    FIELDS.forEach(function (f) {
      var cell = el("td");
      cell.dataset.field = f;
      if (f === "progress") {
        var bar = el("progress", "run-progress");
        bar.setAttribute("aria-label", "Run " + r.id + " progress");
        cell.appendChild(bar);
        cell.appendChild(document.createTextNode(" "));
        cell.appendChild(el("span", "rounds"));
      }
      if (f === "coverage") cell.className = "small";
      row.appendChild(cell);
    });
    return row;
  }

  function apply(state) {
    state.runs.slice().reverse().forEach(function (r) {  // oldest first, each new one on top: newest first
      var row = body.querySelector('tr[data-run="' + r.id + '"]');
      if (!row) {
        row = newRow(r);
        body.insertBefore(row, body.firstElementChild);
      }
      fill(row, r);
    });
    if (state.runs.length) {
      wrap.hidden = false;
      var empty = document.getElementById("no-runs");
      if (empty) empty.remove();
    }
    table.dataset.active = state.active ? "true" : "false";
    updated.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC" +
      (state.active ? ", every 2 s while a run is active" : "");
  }

  function poll() {
    fetch("/admin/runs/state", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
      .then(function (state) {
        apply(state);
        setTimeout(poll, state.active ? 2000 : 10000);
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, table.dataset.active === "true" ? 2000 : 10000);
})();
