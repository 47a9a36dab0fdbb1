// Refreshes every element with data-poll="<url>" every data-poll-seconds seconds.
// Progressive: without script the page still shows everything and reloads by hand.
// Polls carry a header so they do not count as activity for the session's idle time-out.
(function () {
  "use strict";
  function refresh(el) {
    var url = el.getAttribute("data-poll");
    fetch(url, { credentials: "same-origin", headers: { "X-Lockerbridge-Poll": "1" } })
      .then(function (resp) {
        if (resp.status === 401) {
          window.location.assign("/staff/login?next=" + encodeURIComponent(window.location.pathname));
          return null;
        }
        return resp.ok ? resp.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        // Keep keyboard focus where it was (links inside carry stable ids).
        var focused = document.activeElement && el.contains(document.activeElement)
          ? document.activeElement.id : null;
        el.innerHTML = html;
        el.setAttribute("data-polled-at", String(Date.now()));
        if (focused) {
          var again = document.getElementById(focused);
          if (again) { again.focus(); }
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  function start() {
    var els = document.querySelectorAll("[data-poll]");
    Array.prototype.forEach.call(els, function (el) {
      var seconds = parseFloat(el.getAttribute("data-poll-seconds") || "5");
      window.setInterval(function () { refresh(el); }, Math.max(1, seconds) * 1000);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
