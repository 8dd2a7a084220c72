/* Reorder the documents of a draft volume: with the ↑/↓ buttons, with Alt+↑/Alt+↓ on an item, or
 * by dragging. The hidden "order" inputs follow the visible order; "保存顺序" posts them and the
 * page comes back with a confirmation. Without JavaScript each ↑/↓ button posts and saves at once.
 * Volume-break markers are hints recomputed by the server on save. */
(function () {
  "use strict";
  document.querySelectorAll(".reorder-form").forEach(function (form) {
    var list = form.querySelector(".doc-list.sortable");
    if (!list) { return; }
    var status = form.querySelector(".order-status");
    var unsaved = form.querySelector(".order-unsaved");

    function items() { return Array.prototype.slice.call(list.querySelectorAll(".doc-item")); }

    function changed(item) {
      list.querySelectorAll("[data-break]").forEach(function (b) { b.remove(); });
      var all = items();
      all.forEach(function (it, i) {
        it.querySelector(".move-up").disabled = i === 0;
        it.querySelector(".move-down").disabled = i === all.length - 1;
      });
      if (unsaved) { unsaved.hidden = false; }
      if (status && item) {
        status.textContent = (form.dataset.msgMoved || "")
          .replace("{title}", item.dataset.title).replace("{n}", String(all.indexOf(item) + 1));
      }
    }

    function move(item, direction) {
      var all = items();
      var index = all.indexOf(item);
      var other = direction === "up" ? all[index - 1] : all[index + 1];
      if (!other) { return false; }
      list.insertBefore(item, direction === "up" ? other : other.nextSibling);
      changed(item);
      return true;
    }

    form.addEventListener("click", function (e) {
      var button = e.target.closest(".move-up, .move-down");
      if (!button) { return; }
      e.preventDefault();
      var item = button.closest(".doc-item");
      var direction = button.classList.contains("move-up") ? "up" : "down";
      move(item, direction);
      // Keep the keyboard where it was: on the same button, or on its sibling at either end.
      var target = button.disabled ? item.querySelector(direction === "up" ? ".move-down" : ".move-up") : button;
      if (target && !target.disabled) { target.focus(); } else { item.querySelector(".doc-title").focus(); }
    });

    list.addEventListener("keydown", function (e) {
      if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) { return; }
      var item = e.target.closest(".doc-item");
      if (!item) { return; }
      e.preventDefault();
      move(item, e.key === "ArrowUp" ? "up" : "down");
      e.target.focus();
    });

    var dragged = null;
    list.addEventListener("dragstart", function (e) {
      dragged = e.target.closest(".doc-item");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.id);
    });
    list.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("dragging"); changed(dragged); }
      dragged = null;
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
