// The live view (/live): every N seconds (data-refresh) it reads the JSON at data-source and
// redraws the live calls, the seat states and the counters. No framework, no inline script (CSP
// script-src 'self'); text goes in through textContent only, so nothing in the data can become
// markup. Each redraw bumps data-updated (tests wait on it). A failed read shows a "stale" badge
// and tries again at the next tick; a session that expired (a redirect to the login page, or
// 401) stops the refresh.
(function () {
  "use strict";
  var root = document.getElementById("live-view");
  if (!root || !window.fetch) { return; }
  var seconds = Math.max(1, parseInt(root.getAttribute("data-refresh"), 10) || 3);
  var endLabel = root.getAttribute("data-end-label") || "";
  var timer = null;

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    td.textContent = text === undefined || text === null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function duration(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h ? (m < 10 ? "0" : "") : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function fill(table, rows, build) {
    var body = table.tBodies[0], empty = table.querySelector("tbody.empty");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (item) { body.appendChild(build(item)); });
    if (empty) { empty.hidden = rows.length > 0; }
  }

  function callRow(call) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-uuid", call.uuid);
    cell(tr, call.started);
    cell(tr, duration(call.seconds), "num");
    cell(tr, call.tenant);
    cell(tr, call.seat);
    cell(tr, call.direction_label);
    cell(tr, call.caller);
    cell(tr, call.callee);
    cell(tr, call.campaign);
    cell(tr, call.state_label);
    cell(tr, call.held, "num");
    var action = cell(tr, "");
    if (call.end_url) {
      var link = document.createElement("a");
      link.href = call.end_url;
      link.className = "end-call";
      link.textContent = endLabel;
      action.appendChild(link);
    }
    return tr;
  }

  function seatRow(seat) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-seat", seat.seat);
    tr.setAttribute("data-state", seat.state);
    cell(tr, seat.tenant);
    cell(tr, seat.seat);
    var badge = document.createElement("span");
    badge.className = "badge " + (seat.badge || "");
    badge.textContent = seat.label;
    cell(tr, "").appendChild(badge);
    cell(tr, seat.calls, "num");
    cell(tr, seat.agent);
    cell(tr, seat.valid_to);
    return tr;
  }

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element) { element.textContent = String(text); }
  }

  function draw(data) {
    setText("live-now", data.now);
    setText("live-call-count", data.call_count);
    setText("live-held", data.held);
    ["in_call", "idle", "unregistered"].forEach(function (code) {
      setText("seats-" + code, (data.seat_counts && data.seat_counts[code]) || 0);
    });
    fill(document.getElementById("live-calls"), data.calls || [], callRow);
    fill(document.getElementById("live-seats"), data.seats || [], seatRow);
    var note = document.getElementById("live-registrations-note");
    if (note) {
      note.hidden = !data.registrations_note;
      note.querySelector("span").textContent = data.registrations_note || "";
    }
    document.getElementById("live-stale").hidden = true;
    root.setAttribute("data-updated", String((parseInt(root.getAttribute("data-updated"), 10) || 0) + 1));
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(root.getAttribute("data-source"), {credentials: "same-origin", headers: {"Accept": "application/json"},
                                             redirect: "manual"})
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          window.clearInterval(timer);
          root.setAttribute("data-stopped", "1");
          throw new Error("signed out");
        }
        if (!response.ok) { throw new Error("live data: " + response.status); }
        return response.json();
      })
      .then(draw)
      .catch(function () { document.getElementById("live-stale").hidden = false; });
  }

  timer = window.setInterval(refresh, seconds * 1000);
})();
