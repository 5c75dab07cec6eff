// The listing's upload form, enhanced: each chosen file is sent in a
// request of its own, with a progress bar fed by the browser's upload
// progress events, then the server's verdict read from the uploads
// endpoint (`GET {uploads}ID`, JSON). Without JavaScript the form posts
// all files at once, as a plain form.
(function () {
  var form = document.getElementById("upload");
  var rows = document.getElementById("uploads");
  if (!form || !rows || !window.XMLHttpRequest || !window.FormData) return;
  var endpoint = form.getAttribute("data-uploads");
  function show(row, state, text) {
    row.className = state;
    row.cells[2].textContent = text;
  }
  function verdict(row, id) {
    var x = new XMLHttpRequest();
    x.open("GET", endpoint + encodeURIComponent(id));
    x.setRequestHeader("Accept", "application/json");
    x.onload = function () {
      var s = x.status === 200 ? JSON.parse(x.responseText) : null;
      if (s) show(row, s.state, s.state + ", " + s.received + " bytes" + (s.reason ? ": " + s.reason : ""));
      else show(row, "complete", "stored");
    };
    x.onerror = function () { show(row, "complete", "stored"); };
    x.send();
  }
  function send(file) {
    var row = rows.insertRow();
    row.insertCell().textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    row.insertCell().appendChild(bar);
    row.insertCell();
    show(row, "receiving", "0 %");
    var data = new FormData();
    data.append("file", file, file.name);
    var x = new XMLHttpRequest();
    x.open("POST", form.getAttribute("action"));
    x.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      show(row, "receiving", Math.floor((100 * e.loaded) / e.total) + " %");
    };
    x.onload = function () {
      var id = x.getResponseHeader("Upload-Id");
      if (x.status === 201) {
        bar.value = bar.max;
        if (id && endpoint) verdict(row, id);
        else show(row, "complete", "stored");
      } else {
        show(row, "failed", "failed: " + x.status + " " + x.responseText.trim());
      }
    };
    x.onerror = function () { show(row, "failed", "failed: the connection was lost"); };
    x.send(data);
  }
  form.addEventListener("submit", function (e) {
    var files = form.elements.file.files;
    if (!files.length) return;
    e.preventDefault();
    for (var i = 0; i < files.length; i++) send(files[i]);
    form.reset();
  });
})();
