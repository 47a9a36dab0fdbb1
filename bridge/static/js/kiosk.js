// Kiosk time-out: after data-timeout seconds without a touch or key, warn for the last
// 20 seconds (WCAG 2.2.1: the patron can ask for more time with one action), then clear
// every field and go back to the start screen. Nothing about the patron is kept: the
// server keeps no session, the result page is no-store, and location.replace drops it from
// the history so "Back" cannot show it again.
(function () {
  "use strict";
  var body = document.body;
  var limit = parseInt(body.getAttribute("data-timeout") || "60", 10);
  // 20 seconds to answer (WCAG 2.2.1), or half the time-out when that is shorter.
  var WARN = Math.min(20, Math.floor(limit / 2));
  var startUrl = body.getAttribute("data-start");
  var onStart = body.hasAttribute("data-start-screen");
  var last = Date.now();
  var warning = document.getElementById("timeout-warning");
  var warningText = document.getElementById("timeout-text");
  var moreTime = document.getElementById("more-time");

  function clearFields() {
    Array.prototype.forEach.call(document.querySelectorAll("input"), function (el) {
      if (el.type !== "hidden" && el.type !== "radio") { el.value = ""; }
    });
  }
  function reset() {
    last = Date.now();
    if (warning && !warning.hidden) { warning.hidden = true; }
  }
  function backToStart() {
    clearFields();
    // A page that holds something for the patron (the PIN prompt after a card read) lets it
    // go on the way back, through its own cancel button.
    var cancel = document.querySelector("[data-timeout-submit]");
    if (cancel) { cancel.click(); return; }
    window.location.replace(startUrl);
  }
  function tick() {
    var idle = (Date.now() - last) / 1000;
    var left = Math.ceil(limit - idle);
    if (onStart) { return; }
    if (left <= 0) { backToStart(); return; }
    if (left <= WARN && warning) {
      warningText.textContent = warningText.getAttribute("data-template").replace("{s}", String(left));
      if (warning.hidden) { warning.hidden = false; moreTime.focus(); }
    }
  }
  ["pointerdown", "keydown", "input", "touchstart"].forEach(function (name) {
    document.addEventListener(name, function (ev) {
      if (ev.target === moreTime) { return; }
      reset();
    }, true);
  });
  if (moreTime) { moreTime.addEventListener("click", function () { reset(); }); }
  // A result screen moves focus to what happened, so a screen reader says "Door 4 is open".
  var result = document.querySelector("[data-focus-result]");
  if (result) { result.focus(); }
  // Someone left in the middle of a form: on the start screen, clear anything typed anyway.
  if (onStart) { clearFields(); }
  window.setInterval(tick, 1000);
})();
