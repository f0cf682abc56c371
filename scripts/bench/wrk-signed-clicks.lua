-- wrk script of `adtally bench` (scenario ingest-wrk): sends the request paths
-- of a file, one a line, each once, in order. wrk's Lua has no HMAC, so the
-- bench signs the clicks in Node beforehand (each on a new impression id):
-- a path sent twice would be a duplicate, not a billable click.
--
-- usage: wrk -t1 -c64 -d10s --latency -s wrk-signed-clicks.lua URL -- PATHS_FILE [SKIP]
--   SKIP: lines to pass over first (those a warm-up run already sent).
-- At the end of the file it starts again from the top and counts a wrap; done()
-- prints one line "adtally-wrk {json}" with what the text report lacks. wrk
-- calls request() once before the run to check it: that path is used up, not
-- sent, so "paths" is one more than were sent (and the in-flight at the end).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = args[1]
  if file == nil then
    error("wrk-signed-clicks.lua needs the paths file after --")
  end
  paths = assert(io.open(file, "r"))
  consumed = 0
  wraps = 0
  for _ = 1, tonumber(args[2] or "0") do
    if paths:read("*l") == nil then
      break
    end
  end
end

local function next_path()
  local path = paths:read("*l")
  if path == nil then
    wraps = wraps + 1
    paths:seek("set", 0)
    path = paths:read("*l")
  end
  consumed = consumed + 1
  return path
end

function request()
  return wrk.format("GET", next_path())
end

function done(summary, latency, requests)
  local used, wrapped = 0, 0
  for _, thread in ipairs(threads) do
    used = used + (thread:get("consumed") or 0)
    wrapped = wrapped + (thread:get("wraps") or 0)
  end
  io.write(string.format(
    'adtally-wrk {"paths":%d,"wraps":%d,"p999Us":%d,"maxUs":%d,"requests":%d,"durationUs":%d}\n',
    used, wrapped, latency:percentile(99.9), latency.max, summary.requests, summary.duration))
end
