/* The test site's own code: what a real site does around the tracker. */
var site = {
  /* Submit handler: run the calls, let the tracker deliver (bounded), then go on, as
   * a site does before a redirect. */
  form: function (id, calls) {
    document.getElementById(id).addEventListener("submit", function (e) {
      e.preventDefault();
      calls(this);
      site.go("/app.html");
    });
  },
  logout: function (id, reset) {
    document.getElementById(id).addEventListener("click", function () {
      threadline.track("Logged Out");
      if (reset) threadline.reset();
      site.go("/index.html");
    });
  },
  go: function (url) {
    var sent = window.threadline && threadline.flush ? threadline.flush() : null;
    var limit = new Promise(function (r) { setTimeout(r, 3000); });
    Promise.race([sent, limit]).then(function () { location.href = url; });
  },
  show: function () {
    document.getElementById("view").textContent = location.pathname + location.hash;
  }
};
