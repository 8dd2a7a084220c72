/* Reading room: a contents entry moves the PDF viewer to the document's first page.
   Chromium's viewer ignores a change of the #page fragment alone, so the link loads the volume
   again with the page in the query as well ("?page=N#page=N"), which the viewer honours. */
(function () {
  "use strict";
  var frame = document.querySelector("iframe.pdf-frame");
  if (!frame) { return; }
  document.querySelectorAll("#contents a[data-viewer-page]").forEach(function (link) {
    link.addEventListener("click", function (e) {
      e.preventDefault();
      var page = link.dataset.viewerPage;
      var base = frame.dataset.src;
      frame.src = base + (base.indexOf("?") === -1 ? "?" : "&") + "page=" + page + "#page=" + page;
      frame.focus();
    });
  });
})();
