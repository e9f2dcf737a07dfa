-- wrk script for bench/compare.sh: counts responses per pid ("... from <pid>" at the end of the body) in 100 ms bins
-- of wall-clock time, so the suite can tell when a replacement worker started to get its share. One thread (-t1).
-- Prints "tally <bin start, epoch ms> <pid> <count>" lines after wrk's summary.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } pc_timespec;
  int clock_gettime(int clock, pc_timespec *now);
]]
local now = ffi.new("pc_timespec")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  tally = {}
end

function response(status, headers, body)
  local pid = body and body:match("(%d+)%s*$")
  if status == 200 and pid then
    ffi.C.clock_gettime(0, now)
    local bin = tonumber(now.tv_sec) * 1000 + math.floor(tonumber(now.tv_nsec) / 1e8) * 100
    local key = bin .. " " .. pid
    tally[key] = (tally[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("tally")) do
      io.write("tally ", key, " ", count, "\n")
    end
  end
end
