// On-screen keypads for a touch-only kiosk. Progressive enhancement: every field marked
// data-keypad="numeric" (codes, PINs) or "alnum" (card and item numbers) still takes a
// physical keyboard or a scanner; with this script the form also gets a keypad that types
// into the field chosen last (the one with focus on arrival, first). inputmode="none" keeps
// a touch screen's own keyboard from covering the page.
(function () {
  "use strict";
  var body = document.body;
  var ROWS = {
    numeric: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "delete"],
    alnum: "1234567890QWERTYUIOPASDFGHJKL".split("").concat(["delete"])
      .concat("ZXCVBNM".split("")).concat(["clear"])
  };

  function keyButton(key) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "key";
    if (key === "delete") {
      b.textContent = "\u232B";
      b.setAttribute("aria-label", body.getAttribute("data-key-delete") || "Delete");
      b.setAttribute("data-key", "delete");
    } else if (key === "clear") {
      b.textContent = body.getAttribute("data-key-clear") || "Clear";
      b.setAttribute("data-key", "clear");
      b.classList.add("wide");
    } else {
      b.textContent = key;
      b.setAttribute("data-key", key);
    }
    return b;
  }

  var pads = [];
  // One keypad on the screen at a time: the one of the form being filled in.
  function activate(pad) {
    pads.forEach(function (p) { p.hidden = p !== pad; });
  }

  function enhance(form) {
    var fields = Array.prototype.slice.call(form.querySelectorAll("input[data-keypad]"));
    if (!fields.length) { return null; }
    var target = fields.filter(function (f) { return f.autofocus; })[0] || fields[0];
    var pad = document.createElement("div");
    pad.setAttribute("role", "group");
    pad.setAttribute("aria-label", body.getAttribute("data-keypad-label") || "Keypad");
    var kind = null;

    function show(field) {
      target = field;
      var wanted = field.getAttribute("data-keypad") === "numeric" ? "numeric" : "alnum";
      if (wanted === kind) { return; }
      kind = wanted;
      pad.className = "keypad " + kind;
      pad.textContent = "";
      ROWS[kind].forEach(function (key) { pad.appendChild(keyButton(key)); });
    }
    fields.forEach(function (f) {
      f.setAttribute("inputmode", "none");
      f.addEventListener("focus", function () { show(f); activate(pad); });
    });
    // Keep the caret in the field: a tap on a key must not take focus from it.
    pad.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
    pad.addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest("button[data-key]") : null;
      if (!b || !target) { return; }
      var key = b.getAttribute("data-key");
      var max = parseInt(target.getAttribute("maxlength") || "128", 10);
      if (key === "delete") { target.value = target.value.slice(0, -1); }
      else if (key === "clear") { target.value = ""; }
      else if (target.value.length < max) { target.value += key; }
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
    show(target);
    var after = form.querySelector(".buttons");
    if (after && after.parentNode === form) { form.insertBefore(pad, after); }
    else { form.appendChild(pad); }
    pads.push(pad);
    return { pad: pad, focused: target.autofocus };
  }

  var first = null;
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    var made = enhance(form);
    if (made && (made.focused || first === null)) { first = made.pad; }
  });
  if (first) { activate(first); }
})();
