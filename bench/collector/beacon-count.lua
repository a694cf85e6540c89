-- wrk script for scripts/callgrind-collector.sh: the beacons of
-- beacon.lua (same file, same requests), but each wrk thread stops after
-- BENCH_COUNT answers, so that a run under valgrind serves a known number
-- of requests (plus at most one in flight per connection).
--
-- Environment (read at start): BENCH_SCRIPT_DIR, the directory of
-- beacon.lua (required); BENCH_COUNT, answers per wrk thread (default
-- 1000); BENCH_DONE_FILE, a file each thread appends a line to when it
-- stops (wrk itself runs on to its --duration: the caller sends it SIGINT
-- when every thread has stopped); and beacon.lua's own variables.
-- BENCH_SEED (beacon.lua) makes the sequence of beacons the same from run
-- to run.

dofile((os.getenv("BENCH_SCRIPT_DIR") or ".") .. "/beacon.lua")

local count = tonumber(os.getenv("BENCH_COUNT") or "1000")
local done_file = os.getenv("BENCH_DONE_FILE")
local answered = 0

function response(status, headers, body)
   answered = answered + 1
   if answered == count then
      wrk.thread:stop()
      if done_file then
         local f = io.open(done_file, "a")
         f:write("stopped\n")
         f:close()
      end
   end
end
