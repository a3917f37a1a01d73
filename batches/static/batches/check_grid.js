// The checks grid: after each typed result, ask the server whether it passes (the same
// rule that judges it when saved; no limit is known here) and show the answer.
"use strict";
(function () {
  function show(cell, verdict) {
    cell.textContent = "";
    if (!verdict) return;
    var span = document.createElement("span");
    span.className = verdict === "pass" ? "check-pass" : "check-fail";
    span.textContent = verdict === "pass" ? "Pass" : "Fail";
    cell.appendChild(span);
  }
  function init() {
    var table = document.getElementById("check-grid");
    if (!table) return;
    var url = table.getAttribute("data-evaluate-url");
    var timers = {};
    table.addEventListener("input", function (event) {
      var field = event.target;
      if (!field.classList.contains("check-result")) return;
      var item = field.getAttribute("data-item");
      var cell = document.getElementById("verdict-" + item);
      clearTimeout(timers[item]);
      timers[item] = setTimeout(function () {
        var query = "?item=" + encodeURIComponent(item) + "&value=" + encodeURIComponent(field.value);
        fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { verdict: "" }; })
          .then(function (data) { show(cell, data.verdict); })
          .catch(function () { show(cell, ""); });
      }, 250);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
