// The page works without this file (a <noscript> refresh moves it on);
// with it, the page moves on as soon as its status changes, without
// reloading while nothing happens.
(function () {
  "use strict";
  var body = document.body, state = body.getAttribute("data-state");
  if (state !== "pending" && state !== "linking") return;
  var url = body.getAttribute("data-status-url"), next = body.getAttribute("data-next-url");
  var every = parseInt(body.getAttribute("data-poll-ms"), 10) || 2000;
  function poll() {
    fetch(url, { cache: "no-store", credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state && s.state !== state && s.state !== "error") {
          location.replace(next); // the returnUrl once linked, else the page in its new state
        } else {
          setTimeout(poll, every);
        }
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
