/* Mochi tracker: one beacon per page view, also on history navigation in
 * single-page apps. No cookie, no storage, never throws into the page.
 * <script defer src="https://collector.example/mochi.js" data-key="KEY"></script>
 * The build strips comments, indentation and line breaks (cmake/embed_js.cmake):
 * end every statement with a semicolon and write no line comments. */
(function (w, d) {
  try {
    var s = d.currentScript || d.querySelector('script[data-key][src*="mochi.js"]');
    var key = s && s.getAttribute('data-key');
    /* A second copy of the tag (template plus tag manager) must not count
     * every view twice. */
    if (!key || w.__mochi) return;
    w.__mochi = 1;
    var api = s.getAttribute('data-api') || s.src.replace(/\/mochi\.js([?#].*)?$/, '') + '/api/event';
    var last = '';
    var send = function () {
      try {
        var url = w.location.href.split('#')[0];
        if (url === last) return;
        var body = JSON.stringify({ k: key, u: url, r: last || d.referrer || '' });
        last = url;
        /* sendBeacon may be missing, replaced by the page, throw, or
         * refuse (false, queue full): each falls back to XHR. */
        var sent = false;
        try {
          sent = w.navigator.sendBeacon(api, body);
        } catch (e) {}
        if (!sent) {
          var x = new XMLHttpRequest();
          x.open('POST', api, true);
          x.setRequestHeader('Content-Type', 'text/plain');
          x.send(body);
        }
      } catch (e) {}
    };
    var h = w.history;
    if (h && h.pushState) {
      var push = h.pushState;
      h.pushState = function () {
        var r = push.apply(this, arguments);
        send();
        return r;
      };
      w.addEventListener('popstate', send);
    }
    /* A prerendered page is counted when it is shown, not when fetched. */
    if (d.prerendering) {
      d.addEventListener('prerenderingchange', send);
    } else {
      send();
    }
  } catch (e) {}
})(window, document);
