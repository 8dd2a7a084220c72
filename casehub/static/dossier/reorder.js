/* Drag to reorder the documents of a draft volume. The hidden "order" inputs follow the visible
 * order; "保存顺序" posts them. Volume-break markers are hints recomputed by the server on save. */
(function () {
  "use strict";
  document.querySelectorAll(".doc-list.sortable").forEach(function (list) {
    var dragged = null;
    list.addEventListener("dragstart", function (e) {
      dragged = e.target.closest(".doc-item");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.id);
    });
    list.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("dragging"); }
      dragged = null;
      list.querySelectorAll("[data-break]").forEach(function (b) { b.remove(); });
    });
    list.addEventListener("dragover", function (e) {
      if (!dragged) { return; }
      e.preventDefault();
      var over = e.target.closest(".doc-item");
      if (!over || over === dragged) { return; }
      var box = over.getBoundingClientRect();
      var after = e.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (e) { e.preventDefault(); });
  });
})();
