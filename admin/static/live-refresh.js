// Keeps a page's live figures current without reloading it: every N seconds (the
// data-live-refresh attribute of the page's marker element, default 10) the page is fetched again and each element marked
// data-live-region is replaced by its counterpart with the same id. No framework; CSP allows
// scripts from 'self' only, hence this file. A failed fetch or a session that expired (the
// server redirected elsewhere) leaves the page as it is and stops refreshing.
(function () {
  "use strict";
  var marker = document.querySelector("[data-live-refresh]");
  if (!marker || !window.fetch || !window.DOMParser) { return; }
  var seconds = Math.max(2, parseInt(marker.getAttribute("data-live-refresh"), 10) || 10);
  var timer = null;

  function replaceRegions(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var regions = document.querySelectorAll("[data-live-region]");
    for (var i = 0; i < regions.length; i++) {
      var replacement = regions[i].id && fresh.getElementById(regions[i].id);
      if (replacement) { regions[i].replaceWith(document.importNode(replacement, true)); }
    }
    marker.setAttribute("data-live-refreshed", new Date().toISOString());
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok || response.url.split("#")[0] !== window.location.href.split("#")[0]) {
          throw new Error("page not refreshed: " + response.status);
        }
        return response.text();
      })
      .then(replaceRegions)
      .catch(function () { window.clearInterval(timer); marker.setAttribute("data-live-refresh-stopped", "1"); });
  }

  timer = window.setInterval(refresh, seconds * 1000);
})();
