-- wrk: 1:N searches with random 512-d probes (100 bodies made up front), limit 10. PROBE=base64
-- sends each probe as `embeddingBase64` (little-endian float32s) instead of a JSON array.
local key = os.getenv("ENFACE_KEY")
local base64Probe = os.getenv("PROBE") == "base64"
local ffi = require("ffi")
local bit = require("bit")
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(bytes)
  local out = {}
  for i = 1, #bytes, 3 do
    local a, b, c = bytes:byte(i, i + 2)
    local n = bit.bor(bit.lshift(a, 16), bit.lshift(b or 0, 8), c or 0)
    for j = 0, 3 do
      if (j == 2 and b == nil) or (j == 3 and c == nil) then
        out[#out + 1] = "="
      else
        local k = bit.band(bit.rshift(n, 18 - 6 * j), 63)
        out[#out + 1] = alphabet:sub(k + 1, k + 1)
      end
    end
  end
  return table.concat(out)
end
local bodies = {}
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(2000 + id)
  for b = 1, 100 do
    if base64Probe then
      local floats = ffi.new("float[512]")
      for i = 0, 511 do floats[i] = math.random() * 2 - 1 end
      bodies[b] = '{"limit":10,"minScore":-1,"embeddingBase64":"' .. base64(ffi.string(floats, 2048)) .. '"}'
    else
      local parts = {}
      for i = 1, 512 do parts[i] = string.format("%.5f", math.random() * 2 - 1) end
      bodies[b] = '{"limit":10,"minScore":-1,"embedding":[' .. table.concat(parts, ",") .. ']}'
    end
  end
  n = 0
  errors = 0
end

function request()
  n = n + 1
  return wrk.format("POST", "/v1/search", {["X-API-Key"] = key, ["Content-Type"] = "application/json"}, bodies[(n % 100) + 1])
end

function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do errors = errors + thread:get("errors") end
  io.write(string.format(
    '{"requests": %d, "seconds": %.2f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "non_200": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, errors))
end
