// Resend countdown and push polling. The pages work without it (a reload shows the state).
// The words come translated from the page (data-text-* attributes), never from here.
(function () {
  "use strict";
  var button = document.getElementById("authy2fa-send");
  var label = document.getElementById("authy2fa-countdown");
  if (button && label) {
    var left = parseInt(button.getAttribute("data-cooldown") || "0", 10);
    var tick = function () {
      if (left <= 0) { button.disabled = false; label.textContent = ""; return; }
      button.disabled = true;
      label.textContent = (label.getAttribute("data-text") || "{seconds}").replace("{seconds}", left);
      left -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
  }
  var push = document.getElementById("authy2fa-push");
  if (push) {
    var url = push.getAttribute("data-status-url");
    var stateText = document.getElementById("authy2fa-push-state");
    var text = function (name) { return push.getAttribute("data-text-" + name) || ""; };
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.redirect) { window.location.assign(data.redirect); return; }
          if (data.status === "pending") { window.setTimeout(poll, 2000); return; }
          stateText.textContent = data.status === "denied" ? text("denied") :
            data.status === "expired" ? text("expired") : (data.message || text("fallback"));
        })
        .catch(function () { window.setTimeout(poll, 4000); });
    };
    window.setTimeout(poll, 2000);
  }
})();
