// The dev login's "sign in as" choices: picking one ticks its roles and, for the admin and security choices, selects
// the highest clearance. Everything stays editable; without this script the roles and the clearance are picked by hand.
(function () {
  "use strict";
  var form = document.querySelector("form.dev-login");
  if (!form) return;
  var select = form.querySelector("select[name=clearance]");
  form.querySelectorAll("input[name=preset]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) return;
      var roles = (radio.dataset.roles || "").split(",");
      form.querySelectorAll("input[name=roles]").forEach(function (box) {
        box.checked = roles.indexOf(box.value) >= 0;
      });
      if (radio.dataset.clearance) select.value = radio.dataset.clearance;
    });
  });
}());
