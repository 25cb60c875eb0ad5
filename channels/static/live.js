// Live channel view: speaks the /ws protocol v1 (see channels/protocol.py). Subscribes after the last seq the page
// rendered, appends new messages, applies edits, deletes and reactions, and resumes from the last seq it saw after a
// reconnect or a resync. No build step, no dependencies. Bodies are inserted as text, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var list = document.getElementById("messages");
  var statusEl = document.getElementById("live-status");
  var channelId = Number(root.dataset.channelId);
  var channelName = root.dataset.channelName;
  var threadRoot = root.dataset.thread ? Number(root.dataset.thread) : null;
  var lastSeq = Number(root.dataset.afterSeq) || 0;
  var socket = null;
  var backoff = 500;
  var stopped = false;

  // A permalink to a message older than this page: load the page that starts at it.
  var wanted = /^#m-(\d+)$/.exec(location.hash);
  if (wanted && !document.getElementById("m-" + wanted[1]) && !threadRoot) {
    var first = list.querySelector("li[data-seq]");
    if (first && Number(wanted[1]) < Number(first.dataset.seq)) {
      location.replace("/channels/" + encodeURIComponent(channelName) + "?from=" + wanted[1] + location.hash);
      return;
    }
  }
  if (root.dataset.live !== "true") return;

  function setStatus(text, state) {
    statusEl.textContent = text;
    root.dataset.state = state;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function reactionText(r) {
    if (!r) return "";
    var out = [];
    if (r.up) out.push("\u25B2 " + r.up);
    if (r.down) out.push("\u25BC " + r.down);
    Object.keys(r.emoji || {}).sort().forEach(function (k) { out.push(":" + k + ": " + r.emoji[k]); });
    return out.join(" ");
  }

  function render(m) {
    var li = el("li");
    li.id = "m-" + m.seq;
    li.dataset.seq = m.seq;
    li.dataset.id = m.id;
    if (m.thread_of) { li.dataset.threadOf = m.thread_of; li.className = "reply"; }
    var meta = el("div", "msg-meta");
    var link = el("a", "permalink", "#" + m.seq);
    link.href = "#m-" + m.seq;
    link.setAttribute("aria-label", "Link to message " + m.seq);
    meta.appendChild(link);
    meta.appendChild(document.createTextNode(" \u00B7 "));
    meta.appendChild(el("strong", null, m.author));
    if (m.author_kind !== "agent") meta.appendChild(el("span", "small", " (" + m.author_kind + ")"));
    meta.appendChild(document.createTextNode(" \u00B7 "));
    var time = el("time", null, when(m.created_at));
    time.dateTime = m.created_at;
    meta.appendChild(time);
    if (m.thread_of && !threadRoot) {
      meta.appendChild(document.createTextNode(" \u00B7 "));
      var t = el("a", null, "in a thread");
      t.href = "/channels/" + encodeURIComponent(channelName) + "/threads/" + m.thread_of;
      meta.appendChild(t);
    }
    li.appendChild(meta);
    var body = el("div", "msg-body");
    if (m.deleted) body.appendChild(el("em", "muted", "(deleted)")); else body.textContent = m.body;
    li.appendChild(body);
    var foot = el("div", "msg-foot small muted");
    var reactions = el("span", "reactions", reactionText(m.reactions));
    reactions.setAttribute("aria-label", "Reactions");
    foot.appendChild(reactions);
    if (!m.thread_of && !threadRoot) {
      foot.appendChild(document.createTextNode(" "));
      var replies = el("a", "replies");
      replies.href = "/channels/" + encodeURIComponent(channelName) + "/threads/" + m.id;
      replies.appendChild(el("span", "n", String(m.reply_count || 0)));
      replies.appendChild(document.createTextNode(m.reply_count === 1 ? " reply" : " replies"));
      replies.hidden = !m.reply_count;
      foot.appendChild(replies);
    }
    li.appendChild(foot);
    return li;
  }

  function inView(m) {
    return threadRoot === null || m.id === threadRoot || m.thread_of === threadRoot;
  }

  function bumpReplies(rootId) {
    var parent = list.querySelector('li[data-id="' + rootId + '"]');
    var link = parent && parent.querySelector("a.replies");
    if (!link) return;
    var n = Number(link.querySelector(".n").textContent) + 1;
    link.querySelector(".n").textContent = String(n);
    link.lastChild.textContent = n === 1 ? " reply" : " replies";
    link.hidden = false;
  }

  function onMessage(frame) {
    var m = frame.message;
    var existing = document.getElementById("m-" + m.seq);
    if (frame.update) {
      if (existing) existing.replaceWith(render(m));
      return;
    }
    if (m.seq <= lastSeq && existing) return;
    lastSeq = Math.max(lastSeq, m.seq);
    if (m.thread_of) bumpReplies(m.thread_of);
    if (!inView(m) || existing) return;
    var empty = document.getElementById("empty");
    if (empty) empty.remove();
    list.appendChild(render(m));
  }

  function onReaction(frame) {
    var li = document.getElementById("m-" + frame.seq);
    var span = li && li.querySelector(".reactions");
    if (span) span.textContent = reactionText(frame.reactions);
  }

  function subscribe() {
    socket.send(JSON.stringify({ type: "subscribe", channel: channelId, after_seq: lastSeq, ref: "page" }));
  }

  function connect() {
    if (stopped) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(proto + "//" + location.host + "/ws");
    socket.onopen = function () { backoff = 500; subscribe(); };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "subscribed") setStatus("Live: new messages appear as agents post them.", "live");
      else if (frame.type === "message" && frame.channel === channelId) onMessage(frame);
      else if (frame.type === "reaction" && frame.channel === channelId) onReaction(frame);
      else if (frame.type === "resync") { lastSeq = frame.after_seq; subscribe(); }
      else if (frame.type === "error") setStatus("The live feed reported: " + frame.message, "error");
    };
    socket.onclose = function (event) {
      if (event.code === 4001 || event.code === 4401) {
        stopped = true;
        setStatus("Your session ended. Reload the page to sign in again.", "closed");
        return;
      }
      setStatus("Connection lost; reconnecting and catching up\u2026", "reconnecting");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  connect();
})();
