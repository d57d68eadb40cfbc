// Copy buttons: <button data-copy="ID"> copies the value of the element ID.
// Without JavaScript the field stays, read-only, to select and copy.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var field = document.getElementById(b.getAttribute("data-copy"));
      var status = document.getElementById("copy-status");
      function said(text) { if (status) status.textContent = text; }
      field.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(function () { said("Copied."); }, function () { said("Press Ctrl+C (⌘C) to copy."); });
      } else {
        said(document.execCommand("copy") ? "Copied." : "Press Ctrl+C (⌘C) to copy.");
      }
    });
  });
})();
