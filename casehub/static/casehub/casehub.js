// Behaviour shared by every page. Kept out of the templates: the Content-Security-Policy admits
// scripts from our static files only, never inline script or on…= attributes.
(function () {
  "use strict";
  // The language menu switches as soon as a language is chosen (the form still works without JS).
  var language = document.querySelector("#language-form select[name=language]");
  if (language) {
    language.addEventListener("change", function () { language.form.submit(); });
  }
  // The process diagram opens at its start (the first stages), not scrolled to its end.
  var diagram = document.getElementById("process-diagram");
  if (diagram) {
    diagram.scrollLeft = 0;
    diagram.scrollTop = 0;
    window.addEventListener("load", function () { diagram.scrollLeft = 0; diagram.scrollTop = 0; });
  }
  // Buttons that need a second thought (sealing a volume, withdrawing a document) say what they
  // will do and ask first.
  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) { e.preventDefault(); } });
  });
})();
