// Progressive enhancement only: every page works without this file, except
// that times stay in UTC and the link page's status does not move by itself.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Show every <time datetime> in the viewer's time zone.
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });
  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) { el.title = el.textContent; el.textContent = fmt.format(d); }
    });
  }

  // The link page: poll the status every second until it is final.
  function watch(box) {
    var url = box.getAttribute("data-status-url");
    var badge = document.getElementById("status-badge");
    var order = ["PENDING", "AUTHORIZED", "ACTIVE"];
    function show(s) {
      badge.textContent = s.status;
      badge.className = "badge " + s.status.toLowerCase();
      var at = order.indexOf(s.status);
      box.querySelectorAll(".steps li").forEach(function (li) {
        var i = order.indexOf(li.getAttribute("data-step"));
        li.className = at < 0 ? "todo" : (i < at || s.status === "ACTIVE" ? "done" : (i === at ? "current" : "todo"));
      });
      var fail = document.getElementById("status-failure");
      if (s.failureCode) { fail.textContent = s.failureCode + (s.failureMessage ? ": " + s.failureMessage : ""); fail.hidden = false; }
      if (s.tokenId) {
        document.getElementById("token-link").href = "/tokens/" + encodeURIComponent(s.tokenId);
        document.getElementById("status-token").hidden = false;
      }
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (s) { show(s); if (!s.final) setTimeout(poll, 1000); })
        .catch(function () { setTimeout(poll, 3000); });
    }
    if (box.getAttribute("data-final") !== "true") setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localise(document);
    var box = document.getElementById("auth-status");
    if (box) watch(box);
  });
})();
