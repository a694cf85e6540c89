-- wrk script: realistic page-view beacons, one distinct request per call.
--
-- Each request is what a browser's navigator.sendBeacon() sends to
-- POST /api/event: a text/plain JSON body {"k","u","r"} and the headers a
-- current browser adds. Built per request in request(), so every request
-- differs: the page follows a Zipf-like popularity (s = 1.1 over the
-- pages below), the referrer is a mix of search engines, social sites,
-- the site itself and none, and the visitor (X-Forwarded-For address and
-- User-Agent) is drawn from a large pool so that most requests come from
-- different visitors, some of them repeat visitors.
--
-- Environment (read at start):
--   BENCH_KEY       tracking key (required for the collector; any text for nginx)
--   BENCH_DOMAIN    site domain, default example.com
--   BENCH_VISITORS  size of the visitor pool, default 200000
--   BENCH_PAGES     number of distinct pages, default 2000
--   BENCH_SEED      seed of the random draws, default the clock (a fixed
--                   seed sends the same beacons from run to run)
--
-- done() prints one machine-readable line that scripts/bench-collector.sh
-- parses:
--   BENCH_RESULT requests=N duration_us=N bytes=N rps=X p50_us=N p90_us=N
--                p99_us=N max_us=N non2xx=N connect=N read=N write=N timeout=N
-- non2xx is wrk's status error count (responses with status >= 400; the
-- collector never answers 1xx or 3xx to this route, and the script also
-- checks the collector's own per-status counters).

local key = os.getenv("BENCH_KEY") or "bench-key-not-set-000"
local domain = os.getenv("BENCH_DOMAIN") or "example.com"
local nvisitors = tonumber(os.getenv("BENCH_VISITORS") or "200000")
local npages = tonumber(os.getenv("BENCH_PAGES") or "2000")

local thread_counter = 0

function setup(thread)
   thread_counter = thread_counter + 1
   thread:set("thread_id", thread_counter)
end

-- Real browsers' User-Agents (none matches the collector's bot patterns);
-- %d is replaced by a major version drawn per visitor.
local agents = {
   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36",
   "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36",
   "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Mobile Safari/537.36",
   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.0.0",
   "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) Gecko/20100101 Firefox/%d.0",
   "Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0",
   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36",
   "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.%d Safari/605.1.15",
   "Mozilla/5.0 (iPhone; CPU iPhone OS 18_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
   "Mozilla/5.0 (iPad; CPU OS 17_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
}
local languages = {
   "en-US,en;q=0.9", "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9,en;q=0.8",
   "ja,en-US;q=0.9,en;q=0.8", "es-ES,es;q=0.9", "pt-BR,pt;q=0.9,en;q=0.7", "nl-NL,nl;q=0.9,en;q=0.8",
}

-- Pages by popularity rank: a few fixed top pages, then blog posts,
-- docs pages and tag pages. Non-ASCII paths are percent-encoded UTF-8, as
-- browsers send them.
local top_pages = {
   "/", "/pricing", "/blog", "/caf%C3%A9", "/docs/getting-started", "/about",
   "/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E3%82%AC%E3%82%A4%E3%83%89", "/features", "/contact",
}
local pages = {}
for i = 1, npages do
   if i <= #top_pages then
      pages[i] = top_pages[i]
   elseif i % 5 == 0 then
      pages[i] = "/docs/reference/section-" .. (i % 37) .. "/page-" .. i
   elseif i % 7 == 0 then
      pages[i] = "/tag/topic-" .. i
   else
      pages[i] = "/blog/post-" .. i
   end
end

-- Cumulative Zipf weights, searched by bisection per request.
local cdf = {}
do
   local total = 0
   for i = 1, npages do
      total = total + 1 / (i ^ 1.1)
      cdf[i] = total
   end
   for i = 1, npages do cdf[i] = cdf[i] / total end
end

local function pick_page()
   local x = math.random()
   local lo, hi = 1, npages
   while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < x then lo = mid + 1 else hi = mid end
   end
   return lo
end

-- Referrers with weights (percent). "" is a direct visit; the site's own
-- pages are internal navigation (stored as no referrer by the collector).
local function pick_referrer(host)
   local x = math.random(100)
   if x <= 35 then return "" end
   if x <= 60 then return "https://www.google.com/" end
   if x <= 65 then return "https://www.bing.com/" end
   if x <= 68 then return "https://duckduckgo.com/" end
   if x <= 73 then return "https://news.ycombinator.com/item?id=" .. math.random(30000000, 42000000) end
   if x <= 77 then return "https://t.co/" .. string.format("%08x", math.random(0, 0x7fffffff)) end
   if x <= 80 then return "https://www.reddit.com/r/programming/comments/" .. string.format("%x", math.random(1, 0xfffffff)) .. "/" end
   if x <= 82 then return "https://l.facebook.com/" end
   if x <= 84 then return "android-app://com.google.android.gm/" end
   return "https://" .. host .. pages[pick_page()]
end

-- Visitor v (1..nvisitors) -> a stable address and User-Agent, so repeat
-- visitors look alike. One in ten visitors has an IPv6 address.
local function visitor_ip(v)
   if v % 10 == 0 then
      return string.format("2001:db8:%x:%x::%x", (v * 7919) % 65536, (v * 104729) % 65536, v % 65536 + 1)
   end
   local n = (v * 2654435761) % 4294967296
   local a = 1 + (math.floor(n / 16777216) % 223)
   if a == 10 or a == 127 then a = a + 1 end
   return string.format("%d.%d.%d.%d", a, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

local function visitor_agent(v)
   local tmpl = agents[(v % #agents) + 1]
   local ver = 120 + (v % 12)
   if tmpl:find("Version/18.%%d") or tmpl:find("OS 18_%%d") or tmpl:find("OS 17_%%d") then
      ver = v % 7
   end
   return (tmpl:gsub("%%d", tostring(ver)))
end

function init(args)
   local seed = tonumber(os.getenv("BENCH_SEED") or "") or os.time()
   math.randomseed(seed * 1000 + (thread_id or 0) * 7919)
   for _ = 1, 10 do math.random() end
end

local path = "/api/event"

function request()
   -- A skewed visitor draw: a third of the requests come from the
   -- "regulars" (first 2% of the pool), the rest from anyone.
   local v
   if math.random(3) == 1 then
      v = math.random(math.max(1, math.floor(nvisitors / 50)))
   else
      v = math.random(nvisitors)
   end
   local host = (math.random(10) == 1) and ("www." .. domain) or domain
   local page = pages[pick_page()]
   local url = "https://" .. host .. page
   local r = math.random(20)
   if r == 1 then
      url = url .. "?utm_source=newsletter&utm_medium=email"
   elseif r == 2 then
      url = url .. "#section-" .. math.random(9)
   end
   local ref = pick_referrer(host)
   local body = '{"k":"' .. key .. '","u":"' .. url .. '","r":"' .. ref .. '"}'
   local headers = {
      ["User-Agent"] = visitor_agent(v),
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["Accept"] = "*/*",
      ["Accept-Language"] = languages[(v % #languages) + 1],
      ["Accept-Encoding"] = "gzip, deflate, br, zstd",
      ["Origin"] = "https://" .. host,
      ["Referer"] = url,
      ["Sec-Fetch-Dest"] = "empty",
      ["Sec-Fetch-Mode"] = "no-cors",
      ["Sec-Fetch-Site"] = "same-site",
      ["X-Forwarded-For"] = visitor_ip(v),
   }
   return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d bytes=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.bytes, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
