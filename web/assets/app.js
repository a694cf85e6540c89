/* Mochi's dashboard script. The server renders every page complete, with
 * each number in an HTML table (docs/web-api.md lists the pages' ids);
 * this script only adds what a static page cannot do:
 *   - draws the daily chart (uPlot) from the JSON API's timeseries (the
 *     URL the server writes on #chart), with the previous period dashed
 *     when the page compares, and redraws it when the window or the colour
 *     scheme changes; the table beside it stays;
 *   - refreshes the numbers of "N visitors (M page views) in the last 5
 *     minutes" and the freshness line ("Counted up to 14:03:27 (0.4 s
 *     ago)" in the site's zone, or "Catching up: N events behind") every
 *     few seconds while the page is visible;
 *   - puts every table in a box that scrolls sideways on a narrow screen
 *     and that the keyboard can reach.
 * It runs under the pages' Content-Security-Policy (script-src 'self'): no
 * eval, no inline handlers, and data reaches the page only as text
 * (textContent), never as markup. It sets the performance mark
 * "mochi-chart-drawn" and #chart's data-state ("loading", "drawn",
 * "error"), which the browser test and scripts/bench-web.sh read. */
(function () {
  'use strict';

  var REFRESH_MS = 5000;
  var CHART_HEIGHT = 260;
  var CHART_HEIGHT_NARROW = 200;
  var QUERY_KEYS = ['range', 'from', 'to', 'compare'];
  var DAY = 86400;
  /* uPlot reads 30-day and 365-day steps as calendar months and years. */
  var DAY_INCRS = [DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 60 * DAY, 90 * DAY, 180 * DAY, 365 * DAY];

  var main = document.querySelector('main[data-api]');
  var api = main ? main.getAttribute('data-api') : '';
  var zone = (main && main.getAttribute('data-timezone')) || 'UTC';

  /* The range the page shows, as the API's query string: only the
   * parameters the API knows, copied from the page's own address. */
  function rangeQuery() {
    var page = new URLSearchParams(window.location.search);
    var out = new URLSearchParams();
    QUERY_KEYS.forEach(function (k) {
      var v = page.get(k);
      if (v !== null && v !== '') {
        out.set(k, v);
      }
    });
    return out;
  }

  /* GET api/endpoint?params, or GET url when endpoint starts with '/'. */
  function getJSON(endpoint, params) {
    var qs = params ? params.toString() : '';
    var url = endpoint.charAt(0) === '/' ? endpoint : api + '/' + endpoint + (qs ? '?' + qs : '');
    return fetch(url, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store'
    }).then(function (res) {
      if (!res.ok) {
        return res
          .json()
          .catch(function () {
            return {};
          })
          .then(function (body) {
            var err = new Error((body && body.error) || 'HTTP ' + res.status);
            err.status = res.status;
            throw err;
          });
      }
      return res.json();
    });
  }

  /* Replaces el's children with one text. */
  function setText(el, text) {
    if (el) {
      el.textContent = text;
    }
  }

  function byId(id) {
    return document.getElementById(id);
  }

  var numberFormat = new Intl.NumberFormat('en-US');
  function fmtInt(n) {
    return numberFormat.format(n);
  }

  /* ---------------------------------------------------------------- chart */

  /* A site-local date "YYYY-MM-DD" as the Unix seconds of its midnight in
   * UTC: the chart draws its axis in UTC (tzDate below), so each point
   * sits on its own date whatever zone the browser is in. */
  function dateToSeconds(d) {
    var p = d.split('-');
    return Date.UTC(+p[0], +p[1] - 1, +p[2]) / 1000;
  }

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return v && v.trim() ? v.trim() : fallback;
  }

  function chartColors() {
    return {
      views: cssVar('--chart-views', '#2f6fde'),
      viewsFill: cssVar('--chart-views-fill', 'rgba(47, 111, 222, 0.1)'),
      visitors: cssVar('--chart-visitors', '#d9480f'),
      axis: cssVar('--chart-axis', '#555'),
      grid: cssVar('--chart-grid', 'rgba(0,0,0,0.08)')
    };
  }

  var chart = {
    el: null, /* the container the server rendered (#chart) */
    plot: null, /* the uPlot instance */
    data: null, /* the last timeseries answer */
    status: null /* a line for "loading" and errors */
  };

  function chartSize() {
    var w = chart.el.clientWidth || chart.el.getBoundingClientRect().width || 300;
    var narrow = window.matchMedia('(max-width: 600px)').matches;
    return { width: Math.max(200, Math.floor(w)), height: narrow ? CHART_HEIGHT_NARROW : CHART_HEIGHT };
  }

  function buildPlot() {
    var ts = chart.data;
    var points = ts.points || [];
    var compare = ts.compare && ts.compare.points ? ts.compare.points : null;
    var colors = chartColors();
    var xs = points.map(function (p) {
      return dateToSeconds(p.date);
    });
    var data = [
      xs,
      points.map(function (p) {
        return p.page_views;
      }),
      points.map(function (p) {
        return p.visitors;
      })
    ];
    var few = points.length <= 2;
    var series = [
      { label: 'Date', value: '{YYYY}-{MM}-{DD}' },
      { label: 'Page views', stroke: colors.views, width: 2, fill: colors.viewsFill, points: { show: few } },
      { label: 'Visitors', stroke: colors.visitors, width: 2, points: { show: few } }
    ];
    if (compare) {
      /* The previous period, day i drawn at day i of this one. */
      var pick = function (key) {
        return points.map(function (_, i) {
          return compare[i] ? compare[i][key] : null;
        });
      };
      data.push(pick('page_views'), pick('visitors'));
      series.push(
        { label: 'Page views, previous period', stroke: colors.views, width: 1, dash: [6, 4], points: { show: few } },
        { label: 'Visitors, previous period', stroke: colors.visitors, width: 1, dash: [6, 4], points: { show: few } }
      );
    }
    var axis = {
      stroke: colors.axis,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1 }
    };
    var size = chartSize();
    var opts = {
      width: size.width,
      height: size.height,
      /* Dates are site-local days placed at UTC midnight: read them in UTC. */
      tzDate: function (t) {
        return uPlot.tzDate(new Date(t * 1000), 'Etc/UTC');
      },
      scales: {
        /* One day alone still gets an axis: the day before and after. */
        x: {
          time: true,
          range: function (u, min, max) {
            return min === max ? [min - DAY, max + DAY] : [min, max];
          }
        },
        y: {
          range: function (u, min, max) {
            return [0, Math.max(1, max) * 1.1];
          }
        }
      },
      series: series,
      axes: [
        /* Ticks on whole days, weeks or months: the data has one point a
         * day, so no hour ever has a label. */
        Object.assign({}, axis, { incrs: DAY_INCRS }),
        Object.assign({}, axis, {
          size: 56,
          values: function (u, vals) {
            return vals.map(function (v) {
              return fmtInt(v);
            });
          }
        })
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } }
    };
    if (chart.plot) {
      chart.plot.destroy();
      chart.plot = null;
    }
    chart.plot = new uPlot(opts, data, chart.el);
    /* The canvas says nothing to a screen reader; the table beside it does. */
    var canvases = chart.el.querySelectorAll('canvas');
    for (var i = 0; i < canvases.length; i++) {
      canvases[i].setAttribute('aria-hidden', 'true');
    }
    chart.el.setAttribute('data-state', 'drawn');
    chart.el.setAttribute('data-points', String(points.length));
  }

  function chartMessage(text) {
    if (!chart.status) {
      chart.status = document.createElement('p');
      chart.status.className = 'chart-status';
      chart.el.appendChild(chart.status);
    }
    setText(chart.status, text);
  }

  function drawChart() {
    chart.el = byId('chart');
    if (!chart.el) {
      return;
    }
    if (typeof uPlot !== 'function') {
      chart.el.setAttribute('data-state', 'error');
      chartMessage('The chart library did not load; the table below has the same numbers.');
      return;
    }
    chart.el.setAttribute('data-state', 'loading');
    chart.el.setAttribute('role', 'img');
    chart.el.setAttribute('aria-label', 'Daily page views and visitors (the table below has the same numbers)');
    /* The server writes the timeseries URL of the page's range on the
     * container; the page's own query is the fallback. */
    var source = chart.el.getAttribute('data-api');
    var started = performance.now();
    (source ? getJSON(source) : getJSON('timeseries', rangeQuery()))
      .then(function (ts) {
        chart.data = ts;
        if (chart.status) {
          chart.status.remove();
          chart.status = null;
        }
        buildPlot();
        performance.mark('mochi-chart-drawn');
        chart.el.setAttribute('data-ms', (performance.now() - started).toFixed(1));
      })
      .catch(function (err) {
        chart.el.setAttribute('data-state', 'error');
        chartMessage('The chart could not be loaded (' + err.message + '); the table below has the same numbers.');
      });
  }

  var resizeTimer = null;
  function onResize() {
    if (!chart.plot) {
      return;
    }
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      chart.plot.setSize(chartSize());
    }, 100);
  }

  /* Colours come from CSS: a change of scheme redraws with the new ones. */
  function onSchemeChange() {
    if (chart.plot && chart.data) {
      buildPlot();
    }
  }

  /* ------------------------------------------------------------ live lines */

  var timeFormat = null;
  try {
    timeFormat = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23'
    });
  } catch (e) {
    /* an unknown zone: show UTC and say so */
    zone = 'UTC';
    timeFormat = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'UTC',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23'
    });
  }

  /* "0.4 s", "12 s", "3 min", "2 h 5 min". */
  function fmtAgo(seconds) {
    if (seconds < 0) {
      seconds = 0;
    }
    if (seconds < 10) {
      return seconds.toFixed(1) + ' s';
    }
    if (seconds < 90) {
      return Math.round(seconds) + ' s';
    }
    var minutes = Math.round(seconds / 60);
    if (minutes < 90) {
      return minutes + ' min';
    }
    var h = Math.floor(minutes / 60);
    return h + ' h ' + (minutes % 60) + ' min';
  }

  function freshnessText(f) {
    if (f.state === 'catching_up') {
      var n = f.behind;
      return 'Catching up: ' + fmtInt(n) + (n === 1 ? ' event' : ' events') + ' behind';
    }
    if (f.counted_up_to) {
      var at = new Date(f.counted_up_to);
      var text = 'Counted up to ' + timeFormat.format(at);
      if (typeof f.lag_seconds === 'number') {
        text += ' (' + fmtAgo(f.lag_seconds) + ' ago)';
      }
      return text;
    }
    return 'Freshness unknown: the rollup has recorded no progress yet';
  }

  function updateFreshness() {
    var box = byId('freshness');
    if (!box) {
      return Promise.resolve();
    }
    return getJSON('freshness').then(
      function (f) {
        setText(box, freshnessText(f));
        box.setAttribute('data-state', f.state || 'unknown');
        if (f.counted_up_to) {
          box.setAttribute('data-counted-up-to', f.counted_up_to);
        } else {
          box.removeAttribute('data-counted-up-to');
        }
      },
      function () {
        /* keep the last line; the next round tries again */
      }
    );
  }

  /* The server's sentence "N visitors (M page views) in the last 5
   * minutes" keeps its words; only the numbers change. */
  function updateRealtime() {
    var visitors = byId('realtime-visitors');
    var views = byId('realtime-page-views');
    if (!visitors && !views) {
      return Promise.resolve();
    }
    return getJSON('realtime').then(
      function (r) {
        setText(visitors, fmtInt(r.visitors));
        setText(views, fmtInt(r.page_views));
      },
      function () {}
    );
  }

  var liveTimer = null;
  function refreshLive() {
    clearTimeout(liveTimer);
    Promise.all([updateFreshness(), updateRealtime()]).then(function () {
      if (!document.hidden) {
        liveTimer = setTimeout(refreshLive, REFRESH_MS);
      }
    });
  }

  /* ------------------------------------------------------------- keyboard */

  /* Every table sits in a box that scrolls sideways when the screen is
   * narrower than the table, so that the page itself never does. The box
   * takes the keyboard focus (a region named by the table's caption or
   * its section's heading), so that the keyboard reaches the numbers and
   * can scroll them. */
  function scrollingTables() {
    var tables = document.querySelectorAll('main table');
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      if (t.parentElement && t.parentElement.classList.contains('table-scroll')) {
        continue;
      }
      var box = document.createElement('div');
      box.className = 'table-scroll';
      box.setAttribute('tabindex', '0');
      box.setAttribute('role', 'region');
      var cap = t.querySelector('caption');
      var section = t.closest('section');
      var heading = section ? section.querySelector('h2') : null;
      if (cap && cap.textContent.trim()) {
        box.setAttribute('aria-label', cap.textContent.trim());
      } else if (heading && heading.id) {
        box.setAttribute('aria-labelledby', heading.id);
      } else {
        box.setAttribute('aria-label', 'Table');
      }
      t.parentNode.insertBefore(box, t);
      box.appendChild(t);
    }
  }

  function start() {
    drawChart();
    refreshLive();
    window.addEventListener('resize', onResize);
    var dark = window.matchMedia('(prefers-color-scheme: dark)');
    if (dark.addEventListener) {
      dark.addEventListener('change', onSchemeChange);
    }
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) {
        refreshLive();
      }
    });
  }

  /* Every page gets scrolling tables; the dashboard also its chart and
   * live lines. */
  function ready() {
    scrollingTables();
    if (main) {
      start();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', ready);
  } else {
    ready();
  }
})();
