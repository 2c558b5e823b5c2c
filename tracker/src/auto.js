/*
 * The script-tag entry (what /t.js runs): reads the options from the tag's data-*
 * attributes, creates the tracker, replays the calls the stub queued, and installs
 * the global `threadline`.
 *
 *   <script defer src="https://HOST/t.js" data-write-key="WRITE_KEY"></script>
 */
import { createTracker } from "./index.js";

(function () {
  try {
    var stub = window.threadline;
    if (stub && stub.version) return; // loaded twice: the first copy stays
    var s = document.currentScript || document.querySelector("script[data-write-key]");
    if (!s) return;
    var attr = function (n) { return s.getAttribute("data-" + n); };
    // A present attribute is true unless it says "false" or "0": data-cookieless works bare.
    var flag = function (n, dflt) {
      var v = attr(n);
      return v == null ? dflt : v != "false" && v != "0";
    };
    var dnt = attr("respect-dnt");
    var t = createTracker({
      writeKey: attr("write-key"),
      host: attr("api-host") || new URL(s.src, location.href).origin,
      cookieless: flag("cookieless", false),
      crossDomain: (attr("cross-domain") || "").split(","),
      autoPageview: flag("auto-pageview", true),
      cookieDomain: attr("cookie-domain"),
      respectDnt: dnt == "cookieless" ? dnt : flag("respect-dnt", false),
      debug: flag("debug", false),
      flushInterval: +attr("flush-interval") || 0
    });
    window.threadline = t;
    // The stub queues [method, arguments] pairs in `threadline.q`.
    ((stub && stub.q) || []).forEach(function (c) {
      if (t[c[0]]) t[c[0]].apply(null, c[1]);
    });
  } catch (e) {}
})();
