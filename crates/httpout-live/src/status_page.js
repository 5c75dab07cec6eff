// The status page, live: the rows follow /status-json.xsl opened as a
// WebSocket (one document a second). Without WebSockets, or once the
// socket closes, the page reloads every 10 s as it does without scripts.
(function () {
  var table = document.getElementById("streams");
  var note = document.getElementById("refresh");
  function reloadLater() {
    setTimeout(function () { location.reload(); }, 10000);
  }
  if (!table || !window.WebSocket) return reloadLater();
  function bytes(n) {
    if (typeof n !== "number") return "";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], v = n, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? n + " B" : v.toFixed(1) + " " + units[u];
  }
  function text(v) { return v === null || v === undefined ? "" : String(v); }
  function cell(row, value, cls) {
    var td = row.insertCell();
    td.textContent = value;
    if (cls) td.className = cls;
    return td;
  }
  function render(doc) {
    var sources = [].concat((doc.icestats && doc.icestats.source) || []);
    while (table.rows.length > 1) table.deleteRow(1);
    if (!sources.length) {
      cell(table.insertRow(), "No stream yet.").colSpan = 10;
    }
    sources.forEach(function (s) {
      var row = table.insertRow();
      var a = document.createElement("a");
      a.href = s.mount;
      a.textContent = s.mount;
      row.insertCell().appendChild(a);
      cell(row, text(s.server_name));
      cell(row, text(s.state), text(s.state));
      cell(row, text(s.server_type));
      cell(row, text(s.listeners), "n");
      cell(row, text(s.listener_peak), "n");
      cell(row, text(s.listeners_dropped), "n");
      cell(row, bytes(s.bytes_in), "n");
      cell(row, bytes(s.bytes_out), "n");
      cell(row, text(s.title));
    });
  }
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var socket = new WebSocket(scheme + location.host + "/status-json.xsl");
  socket.onmessage = function (e) {
    render(JSON.parse(e.data));
    table.setAttribute("data-live", "websocket");
    if (note) note.textContent = "live";
  };
  socket.onclose = reloadLater;
})();
