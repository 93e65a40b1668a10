// Keeps the cluster picture live: fetches the SVG every 2 s and swaps it
// in. Parsed as XML and imported node by node, never as HTML, so nothing
// in it can run. Without scripts the page's Refresh link does the same.
"use strict";
(function () {
  var holder = document.getElementById("cluster-picture");
  if (!holder || !window.fetch || !window.DOMParser) return;
  var src = holder.getAttribute("data-src");
  function refresh() {
    fetch(src, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        var type = r.headers.get("content-type") || "";
        if (!r.ok || type.indexOf("image/svg+xml") !== 0) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "image/svg+xml");
        var svg = doc.documentElement;
        if (!svg || svg.nodeName !== "svg") return;
        holder.replaceChildren(document.importNode(svg, true));
        holder.removeAttribute("data-stale");
      })
      .catch(function () { holder.setAttribute("data-stale", "true"); })
      .finally(function () { window.setTimeout(refresh, 2000); });
  }
  window.setTimeout(refresh, 2000);
})();
