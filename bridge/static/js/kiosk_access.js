// The start screen of a bank's own kiosk (docs/access.md, "At the kiosk"):
// - polls reader.json: when a card was read at the bank's reader, the PIN prompt (or the
//   reader's result) replaces the start screen;
// - when the presence number changes (every minute), fetches the new one and updates the
//   number, its screen-reader label and the QR code in place, so the focus stays put.
// Only loaded when the server recognised the kiosk (the pages work without it).
(function () {
  "use strict";
  var body = document.body;
  var readerPoll = body.getAttribute("data-reader-poll");
  var readerUrl = body.getAttribute("data-reader-url");
  var presencePoll = body.getAttribute("data-presence-poll");
  var leaving = false;

  function getJson(url, done, failed) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (xhr.status === 200) {
        try { done(JSON.parse(xhr.responseText)); return; } catch (e) { /* fall through */ }
      }
      if (failed) { failed(xhr.status); }
    };
    xhr.onerror = function () { if (failed) { failed(0); } };
    xhr.send();
  }

  function pollReader() {
    if (leaving) { return; }
    getJson(readerPoll, function (data) {
      if (data.state === "waiting_for_pin" || data.state === "result") {
        leaving = true;
        window.location.assign(readerUrl);
      }
    });
  }

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function refreshPresence() {
    getJson(presencePoll, function (data) {
      setText("presence-digits", data.display);
      setText("presence-label", data.label);
      var img = document.getElementById("presence-qr");
      if (img) { img.src = data.qr; }
      window.setTimeout(refreshPresence, (Math.max(1, data.seconds_left) + 1) * 1000);
    }, function (status) {
      // Refused: a kiosk program that sends its token only with page loads (the header
      // X-Lockerbridge-Kiosk) gets the new number by loading the page again.
      if (status === 403) { window.location.reload(); return; }
      // The server is away: try again shortly.
      window.setTimeout(refreshPresence, 5000);
    });
  }

  if (readerPoll && readerUrl) { window.setInterval(pollReader, 1000); }
  if (presencePoll) {
    var first = parseInt(body.getAttribute("data-presence-seconds") || "60", 10);
    window.setTimeout(refreshPresence, (Math.max(1, first) + 1) * 1000);
  }
})();
