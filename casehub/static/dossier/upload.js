/* Dossier upload: several files, drag and drop, a progress bar per file, chunked transfer.
 *
 * Each file is sent in pieces (the server says how big) so files of hundreds of MB never hit a
 * request-size or time limit; a failed piece is retried after asking the server how much it has.
 * Without JavaScript the form still works as a plain one-file upload.
 */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.Blob) { return; }
  var input = document.getElementById("file-input");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("upload-queue");
  var singleTitle = document.getElementById("single-title");
  var button = document.getElementById("upload-button");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var queue = [];
  var MAX_RETRIES = 4;

  function human(n) {
    var units = ["B", "KB", "MB", "GB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }  // never innerHTML: names are user input
    return e;
  }

  function addFiles(files) {
    for (var i = 0; i < files.length; i++) {
      var file = files[i];
      var item = { file: file, row: el("li", "upload-item border rounded p-2 mb-2"), done: false };
      var head = el("div", "d-flex justify-content-between gap-2");
      head.appendChild(el("span", "text-truncate small", file.name + " (" + human(file.size) + ")"));
      var remove = el("button", "btn btn-sm btn-link p-0", form.dataset.msgRemove);
      remove.type = "button";
      head.appendChild(remove);
      item.row.appendChild(head);
      item.title = el("input", "form-control form-control-sm mt-1");
      item.title.value = file.name.replace(/\.[^.]+$/, "");
      item.title.setAttribute("aria-label", form.dataset.msgTitle);
      item.title.maxLength = 200;
      item.row.appendChild(item.title);
      var progress = el("div", "progress mt-1");
      item.bar = el("div", "progress-bar");
      item.bar.style.width = "0%";
      progress.appendChild(item.bar);
      item.row.appendChild(progress);
      item.status = el("div", "small text-muted");
      item.row.appendChild(item.status);
      if (file.size > maxBytes) {
        item.status.textContent = form.dataset.msgTooLarge;
        item.status.className = "small text-danger";
        item.done = true;
      }
      (function (it) {
        remove.addEventListener("click", function () {
          queue.splice(queue.indexOf(it), 1);
          list.removeChild(it.row);
          refresh();
        });
      })(item);
      queue.push(item);
      list.appendChild(item.row);
    }
    input.value = "";
    refresh();
  }

  function refresh() {
    singleTitle.style.display = queue.length ? "none" : "";
    singleTitle.querySelector("input").required = !queue.length;
  }

  input.addEventListener("change", function () { addFiles(input.files); });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("drag-over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("drag-over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files) { addFiles(e.dataTransfer.files); }
  });
  // Keyboard users cannot drag: Enter or Space on the focused zone opens the file picker.
  zone.addEventListener("keydown", function (e) {
    if (e.target === zone && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); input.click(); }
  });

  function request(method, url, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      if (body instanceof Blob) { xhr.setRequestHeader("Content-Type", "application/octet-stream"); }
      if (onProgress && xhr.upload) { xhr.upload.onprogress = onProgress; }
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (err) { data = {}; }
        if (xhr.status >= 200 && xhr.status < 300) { resolve(data); }
        else { data.status = xhr.status; reject(data); }
      };
      xhr.onerror = function () { reject({ status: 0 }); };
      xhr.send(body);
    });
  }

  function metadata(item) {
    var data = new FormData();
    ["category", "part", "doc_date", "supersedes", "reason"].forEach(function (name) {
      var field = form.elements[name];
      if (field) { data.append(name, field.value); }
    });
    data.append("title", item.title.value);
    return data;
  }

  function errorText(err) {
    if (err && err.error) { return err.error; }
    if (err && err.errors) {
      return Object.keys(err.errors).map(function (k) { return err.errors[k].join(" "); }).join("；");
    }
    return form.dataset.msgFailed + (err && err.status ? " (" + err.status + ")" : "");
  }

  async function send(item) {
    var file = item.file;
    var start = new FormData();
    start.append("filename", file.name);
    start.append("size", String(file.size));
    var info = await request("POST", form.dataset.startUrl, start);
    var offset = info.received, size = info.chunk_bytes, retries = 0;
    while (offset < file.size) {
      var piece = file.slice(offset, Math.min(offset + size, file.size));
      try {
        var res = await request("POST", info.chunk_url + "?offset=" + offset, piece, function (e) {
          if (e.lengthComputable) {
            item.bar.style.width = (100 * (offset + e.loaded) / file.size).toFixed(1) + "%";
          }
        });
        offset = res.received;
        retries = 0;
      } catch (err) {
        if (++retries > MAX_RETRIES || (err.status >= 400 && err.status < 500 && err.status !== 409)) { throw err; }
        // Ask the server how much arrived, then continue from there.
        await new Promise(function (r) { setTimeout(r, 1000 * retries); });
        offset = (await request("GET", info.chunk_url)).received;
      }
      item.bar.style.width = (100 * offset / file.size).toFixed(1) + "%";
    }
    return request("POST", info.complete_url, metadata(item));
  }

  form.addEventListener("submit", async function (e) {
    if (!queue.length) { return; }  // plain form post for a single file without the queue
    e.preventDefault();
    button.disabled = true;
    var anyOk = false;
    for (var i = 0; i < queue.length; i++) {
      var item = queue[i];
      if (item.done) { continue; }
      item.status.textContent = "…";
      try {
        var result = await send(item);
        item.bar.classList.add(result.status === "failed" ? "bg-danger" : "bg-success");
        item.status.textContent = result.status === "failed" ? result.message : form.dataset.msgDone;
        item.status.className = result.status === "failed" ? "small text-danger" : "small text-success";
        anyOk = anyOk || result.status !== "failed";
      } catch (err) {
        item.bar.classList.add("bg-danger");
        item.status.textContent = errorText(err);
        item.status.className = "small text-danger";
      }
      item.done = true;
    }
    button.disabled = false;
    var jobs = document.getElementById("jobs");
    if (window.htmx && jobs) { window.htmx.trigger(jobs, "refresh"); }
    if (anyOk) { waitForJobsThenReload(); }
  });

  function waitForJobsThenReload() {
    var check = function () {
      var running = document.querySelectorAll("#jobs .job[data-status=queued], #jobs .job[data-status=running]");
      if (!running.length) { window.location.reload(); return true; }
      return false;
    };
    document.body.addEventListener("htmx:afterSwap", function (e) {
      if (e.detail && e.detail.target && e.detail.target.id === "jobs") { setTimeout(check, 300); }
    });
    setTimeout(check, 1500);
  }

})();
