// The import page: read a chosen YAML file into the textarea (the form posts urlencoded, with its CSRF token) and
// pick "My own file"; picking a built-in picks that source. No inline script.
(function () {
  "use strict";
  var file = document.getElementById("yaml-file");
  var text = document.getElementById("yaml-text");
  if (!file || !text) return;
  function choose(value) {
    var radio = document.querySelector('#import-form input[name="source"][value="' + value + '"]');
    if (radio) radio.checked = true;
  }
  file.addEventListener("change", function (event) {
    var chosen = event.target.files[0];
    if (!chosen) return;
    chosen.text().then(function (body) { text.value = body; choose("upload"); });
  });
  text.addEventListener("input", function () { choose("upload"); });
  var builtin = document.querySelector('#import-form select[name="builtin"]');
  if (builtin) builtin.addEventListener("change", function () { if (builtin.value) choose("builtin"); });
})();
