// The chain check's progress on /security/verify: while a check runs, ask the API for it every second and move the
// bar; when it ends, load the page once to show the result. No inline script, no dependencies.
(function () {
  "use strict";
  var box = document.getElementById("verify-job");
  if (!box || box.dataset.status !== "running") return;
  var bar = document.getElementById("verify-progress");
  var text = document.getElementById("verify-progress-text");
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function poll() {
    fetch("/api/audit/verifications/latest", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
      .then(function (body) {
        var job = body.job;
        if (!job || String(job.id) !== box.dataset.job || job.status !== "running") {
          location.reload();
          return;
        }
        bar.max = job.total || 1;
        bar.value = job.checked;
        bar.textContent = job.percent + "%";
        text.textContent = "Checked " + fmt(job.checked) + " of about " + fmt(job.total) + " entries.";
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
