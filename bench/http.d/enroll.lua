-- wrk: enroll random 512-d faces, one person each, until ENROLL_COUNT are acknowledged.
local count = tonumber(os.getenv("ENROLL_COUNT") or "100000")
-- Each thread has its own Lua state: it enrolls its share (the main state's table of threads
-- is not visible there).
local share = math.ceil(count / tonumber(os.getenv("ENROLL_THREADS") or "2"))
local key = os.getenv("ENFACE_KEY")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(1000 + id)
  created = 0
  failed = 0
  sequence = 0
end

local function vector()
  local parts = {}
  for i = 1, 512 do parts[i] = string.format("%.5f", math.random() * 2 - 1) end
  return "[" .. table.concat(parts, ",") .. "]"
end

function request()
  sequence = sequence + 1
  local path = string.format("/v1/persons/t%d-%d/faces", id, sequence)
  return wrk.format("POST", path, {["X-API-Key"] = key, ["Content-Type"] = "application/json"},
    '{"embedding":' .. vector() .. '}')
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
  if created >= share then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local created, failed = 0, 0
  for _, thread in ipairs(threads) do
    created = created + thread:get("created")
    failed = failed + thread:get("failed")
  end
  io.write(string.format('{"enrolled": %d, "failed": %d, "seconds": %.2f}\n', created, failed, summary.duration / 1e6))
end
