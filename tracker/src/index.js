/*
 * threadline.js: Threadline's browser tracker, as an ES module.
 *
 * createTracker(options) returns the `threadline` object a page calls: page, track,
 * identify, group, alias, reset, optOut, optIn, linkTo, flush, anonymousId, userId.
 * Messages follow the Segment spec and go to the server's native `POST /v1/batch`.
 *
 * Rules this file keeps (see docs/tracker.md):
 * - It never throws into the page: every public call and every listener is guarded.
 * - No dependencies, plain ES2017, no template literals (the build's minifier keeps
 *   newlines out, so every statement ends with a semicolon).
 * - Every message gets its messageId when it is created and keeps it through every
 *   retry, beacon and reload: the server stores a message id once, so a resend is
 *   never a duplicate.
 */

export var VERSION = "0.1.0";

var AID = "tl_aid";
var UID = "tl_uid";
var QKEY = "tl_q";
var OPTOUT = "tl_optout";
var LINK_PARAM = "_tlid";
var YEAR_S = 31536000;
var LINK_TTL_MS = 120000;
var MAX_QUEUE = 500;
var BATCH_BYTES = 48000;
var MAX_BACKOFF_MS = 30000;

/* Storage and cookies: every access may throw (disabled storage, sandboxed frames). */
function lsGet(k) {
  try {
    return localStorage.getItem(k);
  } catch (e) {
    return null;
  }
}

function lsSet(k, v) {
  try {
    if (v == null) localStorage.removeItem(k);
    else localStorage.setItem(k, v);
  } catch (e) {}
}

function cookieGet(k) {
  try {
    var m = document.cookie.match(new RegExp("(?:^|; )" + k + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  } catch (e) {
    return null;
  }
}

function cookieSet(k, v, domain) {
  try {
    document.cookie = k + "=" + (v == null ? "" : encodeURIComponent(v)) +
      "; Path=/; Max-Age=" + (v == null ? 0 : YEAR_S) + "; SameSite=Lax" +
      (domain ? "; Domain=" + domain : "") +
      (location.protocol == "https:" ? "; Secure" : "");
  } catch (e) {}
}

/* The widest domain that accepts a cookie (example.co.uk, not co.uk): what
 * `data-cookie-domain="auto"` picks so every subdomain shares the visitor. */
function autoDomain() {
  var host = location.hostname;
  var parts = host.split(".");
  if (parts.length < 2 || /^[\d.]+$/.test(host)) return "";
  for (var i = parts.length - 2; i >= 0; i--) {
    var d = parts.slice(i).join(".");
    cookieSet("tl_probe", "1", d);
    if (cookieGet("tl_probe")) {
      cookieSet("tl_probe", null, d);
      return d;
    }
  }
  return "";
}

export function uuid() {
  var c = window.crypto;
  if (c.randomUUID) return c.randomUUID();
  var b = c.getRandomValues(new Uint8Array(16));
  b[6] = b[6] & 15 | 64;
  b[8] = b[8] & 63 | 128;
  var h = "";
  for (var i = 0; i < 16; i++) h += (i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "") + (b[i] + 256).toString(16).slice(1);
  return h;
}

function assign(a, b) {
  for (var k in b) if (Object.prototype.hasOwnProperty.call(b, k)) a[k] = b[k];
  return a;
}

function isObj(x) {
  return x !== null && typeof x == "object" && !Array.isArray(x);
}

function readQueue() {
  try {
    var q = JSON.parse(lsGet(QKEY) || "[]");
    return Array.isArray(q) ? q.filter(function (m) { return m && m.messageId; }) : [];
  } catch (e) {
    return [];
  }
}

/**
 * Create the tracker. Options: writeKey (required), host (the server's base URL),
 * cookieless, crossDomain (array of domains), autoPageview (default true),
 * cookieDomain ("" host-only, "auto", or a domain), respectDnt (true or
 * "cookieless"), debug, flushInterval (ms), batchSize.
 */
export function createTracker(options) {
  var o = options || {};
  var nav = navigator;
  var host = String(o.host || location.origin).replace(/\/+$/, "");
  var flushMs = o.flushInterval || 300;
  var batchSize = o.batchSize || 20;
  var crossDomain = (o.crossDomain || []).map(function (d) { return String(d).trim().toLowerCase(); }).filter(Boolean);
  var privacySignal = nav.doNotTrack == "1" || window.doNotTrack == "1" || nav.globalPrivacyControl === true;
  var dnt = !!o.respectDnt && privacySignal;
  // respectDnt: "cookieless" degrades to cookieless mode; any other true value stops tracking.
  var cookieless = !!o.cookieless || (dnt && o.respectDnt == "cookieless");
  var off = dnt && !cookieless;
  var optedOut = lsGet(OPTOUT) == "1";
  var cookieDomain = "";
  if (!cookieless && o.cookieDomain) cookieDomain = o.cookieDomain == "auto" ? autoDomain() : String(o.cookieDomain).replace(/^\./, "");
  var anon = null;
  var user = null;
  var linked = null;
  var referrer = document.referrer;
  var lastHref = null;
  var lastTs = 0;
  var queue = [];
  var inflight = {};
  var beaconed = {};
  var acked = {};
  var timer = null;
  var sending = false;
  var backoff = 0;
  var waiters = [];
  var panel = null;
  var lines = [];

  function log(what, detail) {
    if (!o.debug) return;
    try {
      console.log("[threadline]", what, detail == null ? "" : detail);
      lines.push(new Date().toISOString().slice(11, 23) + " " + what + (detail == null ? "" : " " + (typeof detail == "string" ? detail : JSON.stringify(detail))));
      lines = lines.slice(-12);
      drawPanel();
    } catch (e) {}
  }

  /* The debug panel: a fixed box showing the visitor and the last messages. */
  function drawPanel() {
    var b = document.body;
    if (!b) return;
    if (!panel) {
      panel = document.createElement("pre");
      panel.id = "threadline-debug";
      panel.style.cssText = "position:fixed;right:8px;bottom:8px;z-index:2147483647;max-width:46em;max-height:40vh;overflow:auto;margin:0;padding:8px;font:11px/1.35 monospace;white-space:pre-wrap;background:rgba(20,24,32,.92);color:#cfe;border-radius:6px;pointer-events:none";
      b.appendChild(panel);
    }
    panel.textContent = "threadline.js " + VERSION + (cookieless ? " (cookieless)" : "") + (off || optedOut ? " (not tracking)" : "") +
      "\nanonymousId " + (cookieless ? "- (server-derived)" : anon) + "\nuserId      " + (user || "-") +
      "\nqueue       " + queue.length + (backoff ? " (retry in " + backoff + " ms)" : "") + "\n" + lines.join("\n");
  }

  /* Identity: the cookie and the localStorage copy restore each other. */
  function stored(k) {
    var c = cookieGet(k);
    var l = lsGet(k);
    var v = c || l;
    if (v) persist(k, v, c, l);
    return v;
  }

  function persist(k, v, c, l) {
    if (v != c) cookieSet(k, v, cookieDomain);
    if (v != l) lsSet(k, v);
  }

  function forget(k) {
    cookieSet(k, null, cookieDomain);
    lsSet(k, null);
  }

  function anonymousId() {
    if (cookieless || off || optedOut) return null;
    // Re-read on every call: another tab may have reset (then its user is gone here
    // too), or the cookie may have been cleared while this page was open (then memory
    // restores both).
    var v = stored(AID);
    if (v && anon && v != anon) user = null;
    v = v || anon || uuid();
    if (v != anon) {
      anon = v;
      persist(AID, v);
    }
    return anon;
  }

  function userId() {
    if (!cookieless && !off && !optedOut) user = stored(UID) || user;
    return user;
  }

  /* Context the server and the analyst read (api.md, "Context fields"). */
  function pageInfo() {
    return { url: location.href, path: location.pathname, referrer: referrer, title: document.title, search: location.search };
  }

  function context() {
    var s = window.screen || {};
    var ctx = {
      library: { name: "threadline.js", version: VERSION },
      page: pageInfo(),
      userAgent: nav.userAgent,
      locale: nav.language,
      screen: { width: s.width, height: s.height, density: window.devicePixelRatio }
    };
    try {
      ctx.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {}
    var campaign = null;
    new URLSearchParams(location.search).forEach(function (v, k) {
      if (k.indexOf("utm_") == 0) (campaign = campaign || {})[k == "utm_campaign" ? "name" : k.slice(4)] = v;
    });
    if (campaign) ctx.campaign = campaign;
    if (cookieless) ctx.cookieless = true;
    return ctx;
  }

  function message(type, fields) {
    if (off || optedOut) return log("not tracking", type);
    // Strictly increasing times keep the order of calls made in the same millisecond.
    var t = Math.max(Date.now(), lastTs + 1);
    lastTs = t;
    var m = { type: type, messageId: uuid(), timestamp: new Date(t).toISOString(), context: context() };
    var aid = anonymousId();
    if (aid) m.anonymousId = aid;
    var uid = userId();
    if (uid) m.userId = uid;
    for (var k in fields) if (fields[k] != null) m[k] = fields[k];
    if (linked) {
      m.context.linked_anonymous_id = linked;
      linked = null;
    }
    queue.push(m);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    save();
    log(type, type == "page" ? m.context.page.path : m.event || m.groupId || m.userId);
    schedule(queue.length >= batchSize ? 0 : flushMs);
  }

  /* The queue mirrors to localStorage so a reload or a tab close loses nothing. Tabs
   * share the key: the stored copy is the union of every tab's pending messages
   * minus what this tab saw acknowledged. */
  function save() {
    if (cookieless) return;
    var seen = {};
    var out = queue.filter(function (m) { return seen[m.messageId] = 1; });
    readQueue().forEach(function (m) {
      if (!seen[m.messageId] && !acked[m.messageId]) out.push(m);
    });
    lsSet(QKEY, out.length ? JSON.stringify(out.slice(-MAX_QUEUE)) : null);
  }

  function schedule(ms) {
    if (timer || sending) return;
    if (backoff) ms = Math.max(ms, backoff);
    timer = setTimeout(sendSafe, ms);
  }

  function body(batch) {
    return JSON.stringify({ batch: batch, sentAt: new Date().toISOString(), writeKey: o.writeKey });
  }

  /* The next batch: messages not already on their way, up to the count and size limits. */
  function nextBatch(limit) {
    var batch = [];
    var bytes = 0;
    for (var i = 0; i < queue.length && batch.length < limit; i++) {
      var m = queue[i];
      if (inflight[m.messageId] || beaconed[m.messageId]) continue;
      bytes += JSON.stringify(m).length;
      if (batch.length && bytes > BATCH_BYTES) break;
      batch.push(m);
    }
    return batch;
  }

  function settle(ok) {
    var w = waiters;
    waiters = [];
    w.forEach(function (f) { f(ok); });
  }

  function send() {
    clearTimeout(timer);
    timer = null;
    if (sending) return;
    var batch = nextBatch(batchSize);
    if (!batch.length) return settle(!queue.length);
    sending = true;
    batch.forEach(function (m) { inflight[m.messageId] = 1; });
    var data = body(batch);
    function done(retryAfter, what) {
      sending = false;
      batch.forEach(function (m) { delete inflight[m.messageId]; });
      if (retryAfter == null) {
        // Delivered (2xx), or refused for good (4xx other than 408/429): a resend
        // would get the same answer, so the messages leave the queue.
        batch.forEach(function (m) { acked[m.messageId] = 1; });
        queue = queue.filter(function (m) { return !acked[m.messageId]; });
        backoff = 0;
        save();
        log("sent", what);
        if (queue.length) schedule(0);
        else settle(true);
      } else {
        backoff = Math.min(MAX_BACKOFF_MS, Math.max(retryAfter, backoff ? backoff * 2 : 1000));
        // Jitter spreads the retries of many pages after an outage.
        backoff = Math.round(backoff * (0.8 + Math.random() * 0.4));
        log("not sent", what + ", retry in " + backoff + " ms");
        settle(false);
        schedule(0);
      }
    }
    // Through a promise, so even a synchronous throw from fetch ends in done().
    Promise.resolve().then(function () {
      return fetch(host + "/v1/batch", {
        method: "POST",
        body: data,
        // text/plain keeps this a simple request: no preflight; the key is in the body.
        headers: { "Content-Type": "text/plain" },
        credentials: "omit",
        keepalive: data.length < 60000
      });
    }).then(function (r) {
      var s = r.status;
      var what = batch.length + " -> " + s;
      if (s < 300 || (s < 500 && s != 408 && s != 429)) done(null, what);
      else done((parseInt(r.headers.get("Retry-After"), 10) || 0) * 1000, what);
    }, function () {
      done(0, batch.length + ", network error");
    });
  }

  /* Page hidden or going away: whatever is not already on its way goes by sendBeacon.
   * The messages stay queued (a beacon has no answer): the next page, or this one when
   * it is shown again, sends them again, and the server recognises their ids. */
  function beacon() {
    if (!nav.sendBeacon) return;
    var rest = queue.filter(function (m) { return !inflight[m.messageId] && !beaconed[m.messageId]; });
    while (rest.length) {
      var batch = [];
      var bytes = 0;
      while (rest.length && (!batch.length || bytes + JSON.stringify(rest[0]).length < BATCH_BYTES)) {
        bytes += JSON.stringify(rest[0]).length;
        batch.push(rest.shift());
      }
      var ok = nav.sendBeacon(host + "/v1/batch", new Blob([body(batch)], { type: "text/plain" }));
      if (ok) batch.forEach(function (m) { beaconed[m.messageId] = 1; });
      log("beacon", batch.length + (ok ? "" : " refused"));
    }
  }

  var sendSafe = guard(send);

  function flush() {
    return new Promise(function (resolve) {
      if (!queue.length) return resolve(true);
      waiters.push(resolve);
      send();
    });
  }

  /* Public calls (Segment spec). */
  function page(name, props) {
    if (isObj(name)) {
      props = name;
      name = null;
    }
    if (lastHref && lastHref != location.href) referrer = lastHref;
    lastHref = location.href;
    message("page", { name: name == null ? null : String(name), properties: assign(pageInfo(), isObj(props) ? props : {}) });
  }

  function track(event, props) {
    if (!event) return log("track needs an event name");
    message("track", { event: String(event), properties: isObj(props) ? props : {} });
  }

  function identify(id, traits) {
    if (isObj(id)) {
      traits = id;
      id = null;
    }
    if (id != null && id !== "") {
      user = String(id);
      if (!cookieless && !off && !optedOut) persist(UID, user);
    }
    message("identify", { userId: user, traits: isObj(traits) ? traits : {} });
  }

  function group(id, traits) {
    if (id == null || id === "") return log("group needs an id");
    message("group", { groupId: String(id), traits: isObj(traits) ? traits : {} });
  }

  function alias(to, from) {
    var prev = from != null ? String(from) : userId() || anonymousId();
    if (to == null || !prev) return log("alias needs a user id and a previous id");
    message("alias", { userId: String(to), previousId: prev });
  }

  /* Logout: the user is forgotten and the browser becomes a new visitor, so the next
   * person on this browser starts clean. */
  function reset() {
    user = null;
    linked = null;
    if (cookieless || off || optedOut) return log("reset");
    forget(UID);
    anon = uuid();
    persist(AID, anon);
    log("reset", anon);
  }

  function optOut() {
    optedOut = true;
    queue = [];
    forget(AID);
    forget(UID);
    lsSet(QKEY, null);
    // The one thing stored even in cookieless mode: the visitor asked for it.
    lsSet(OPTOUT, "1");
    log("opted out");
  }

  function optIn() {
    optedOut = false;
    lsSet(OPTOUT, null);
    log("opted in");
  }

  /* Cross-domain linking: `?_tlid=<anonymous id>.<time in base 36>` on links to the
   * configured domains. The time bounds a copied link's life to two minutes, so a
   * shared URL does not make strangers one person. */
  function linkTo(url) {
    var u = new URL(url, location.href);
    if (!cookieless && !off && !optedOut) u.searchParams.set(LINK_PARAM, anonymousId() + "." + Date.now().toString(36));
    return u.href;
  }

  function crossTarget(u) {
    if (u.host == location.host || !/^https?:$/.test(u.protocol)) return false;
    var h = u.hostname.toLowerCase();
    return crossDomain.some(function (d) {
      return h == d || u.host == d || h.slice(-d.length - 1) == "." + d;
    });
  }

  function decorate(e) {
    try {
      var a = e.target && e.target.closest && e.target.closest("a[href]");
      if (a && crossTarget(new URL(a.href, location.href))) a.href = linkTo(a.href);
    } catch (err) {}
  }

  /* The receiving side: remember the id we were linked from and take the parameter
   * out of the address bar (and out of every URL this page reports). */
  function readLink() {
    var q = new URLSearchParams(location.search);
    var v = q.get(LINK_PARAM);
    if (v == null) return;
    q.delete(LINK_PARAM);
    var s = q.toString();
    try {
      history.replaceState(history.state, "", location.pathname + (s ? "?" + s : "") + location.hash);
    } catch (e) {}
    var i = v.lastIndexOf(".");
    var id = v.slice(0, i);
    var age = Date.now() - parseInt(v.slice(i + 1), 36);
    if (i > 0 && age > -LINK_TTL_MS && age < LINK_TTL_MS && id != anon) linked = id;
    log("linked from", linked || "(expired link)");
  }

  /* Single-page apps: a page view whenever the URL changes. */
  function onNavigate() {
    // After the current task, so the app has had its chance to set the title.
    setTimeout(guard(function () {
      if (location.href != lastHref) page();
    }), 0);
  }

  function hookHistory() {
    ["pushState", "replaceState"].forEach(function (k) {
      var orig = history[k];
      history[k] = function () {
        var r = orig.apply(this, arguments);
        onNavigate();
        return r;
      };
    });
    addEventListener("popstate", onNavigate);
    addEventListener("hashchange", onNavigate);
    // Back to a page kept in the back/forward cache: no load, but a page view all the same.
    addEventListener("pageshow", guard(function (e) {
      if (e.persisted) page();
    }));
  }

  function guard(f) {
    return function () {
      try {
        return f.apply(null, arguments);
      } catch (e) {
        log("error", String(e));
      }
    };
  }

  var api = {
    version: VERSION,
    page: guard(page),
    track: guard(track),
    identify: guard(identify),
    group: guard(group),
    alias: guard(alias),
    reset: guard(reset),
    optOut: guard(optOut),
    optIn: guard(optIn),
    linkTo: function (url) {
      try {
        return linkTo(url);
      } catch (e) {
        return url;
      }
    },
    flush: function () {
      try {
        return flush();
      } catch (e) {
        return Promise.resolve(false);
      }
    },
    anonymousId: guard(anonymousId),
    userId: guard(userId)
  };

  guard(function () {
    if (!o.writeKey) log("no write key: nothing will be sent");
    if (!cookieless && !off && !optedOut) {
      queue = readQueue();
      anonymousId();
      userId();
    }
    readLink();
    if (crossDomain.length) ["mousedown", "keydown", "touchstart", "click", "contextmenu"].forEach(function (t) { addEventListener(t, decorate, true); });
    addEventListener("visibilitychange", guard(function () {
      if (document.visibilityState == "hidden") return beacon();
      beaconed = {};
      if (queue.length) schedule(0);
    }));
    addEventListener("pagehide", guard(beacon));
    addEventListener("online", guard(function () {
      backoff = 0;
      send();
    }));
    if (o.autoPageview !== false) {
      hookHistory();
      // A microtask later, so calls queued by the stub (identify, optOut) come first.
      Promise.resolve().then(guard(function () {
        if (lastHref == null) page();
      }));
    }
    if (queue.length) schedule(0);
    log("ready", cookieless ? "cookieless" : anon);
  })();

  return api;
}
