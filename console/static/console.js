// Progressive enhancement only: every page works without this file, except
// that times stay in UTC, the link page's status does not move by itself and
// a new webhook secret is copied by hand.
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

  // Copy buttons (data-copy names the input): shown only with JavaScript;
  // without it the secret is selected by hand.
  function copier(btn) {
    var input = document.getElementById(btn.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!input) return;
    function done(ok) {
      if (status) status.textContent = ok ? "Copied to the clipboard." : "Could not copy: select the secret and copy it by hand.";
      btn.textContent = ok ? "Copied" : "Copy";
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () {
          done(document.execCommand && document.execCommand("copy"));
        });
      } else {
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localise(document);
    document.querySelectorAll("button[data-copy]").forEach(copier);
    var box = document.getElementById("auth-status");
    if (box) watch(box);
  });
})();
