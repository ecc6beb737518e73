-- One scenario's request for wrk (https://github.com/wg/wrk), written by the Mainspring bench
-- harness (bench/wrk.py), which passes the request after "--" as key=value arguments:
--
--   wrk ... --script scenario.lua http://127.0.0.1:PORT -- \
--       prefix=<token> threads=<wrk's --threads> method=POST path=/api/v1/things \
--       "header=Content-Type: application/json" "header=Authorization: Bearer ${token}" \
--       'body={"name": "thing-${unique}"}' pool=token=/tmp/mainspring-wrk-x/token.txt
--
-- Every "${unique}" in the path, a header value or the body is replaced, per request, with
-- "<prefix>-<thread>-<n>": unique over the run, so a POST can create a new resource each time.
-- Every "${name}" of a pool (a file of values, one a line) is replaced, per request, by the
-- pool's next value, round-robin over the run: the run's k-th request (counting from 0, the
-- threads interleaved) takes value offset + k modulo the pool's size ("offset=<n>", 0 unless
-- given: the load run starts where the warm-up stopped). A request without either is
-- formatted once and sent as is.
--
-- wrk runs this file in one Lua state per thread, plus one for setup() and done(). Each thread
-- counts the statuses it receives; done() adds them up and prints one line, "BENCH-RESULT "
-- and a JSON object, which the harness reads instead of parsing wrk's text report.

local UNIQUE = "%${unique}" -- a Lua pattern: "$" is escaped

-- setup() and done(): the main state keeps the threads to read their counts at the end.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

-- Each thread: the request, and the count of every status received (a global, so that the
-- main state can read it with thread:get("statuses")).
statuses = {}
local spec = { headers = {}, pools = {}, threads = 1, offset = 0 }
local static_request = nil
local sequence = 0

local function placeholder(name)
  return "%${" .. name .. "}" -- pool names are identifiers: nothing else to escape
end

local function mentions(pattern)
  if spec.path:find(pattern) or (spec.body and spec.body:find(pattern)) then
    return true
  end
  for _, value in pairs(spec.headers) do
    if value:find(pattern) then
      return true
    end
  end
  return false
end

local function dynamic()
  if mentions(UNIQUE) then
    return true
  end
  for name in pairs(spec.pools) do
    if mentions(placeholder(name)) then
      return true
    end
  end
  return false
end

local function read_pool(path)
  local values = {}
  for line in io.lines(path) do
    values[#values + 1] = line
  end
  if #values == 0 then
    error("scenario.lua: the pool " .. path .. " is empty")
  end
  return values
end

function init(args)
  for i = 1, #args do
    local key, value = args[i]:match("^(%a+)=(.*)$")
    if key == "header" then
      local name, content = value:match("^([^:]+):%s*(.*)$")
      spec.headers[name] = content
    elseif key == "pool" then
      local name, path = value:match("^([%a_][%w_]*)=(.+)$")
      if not name then
        error("scenario.lua: a pool is name=path, not " .. value)
      end
      spec.pools[name] = read_pool(path)
    elseif key == "threads" then
      spec.threads = tonumber(value)
    elseif key == "offset" then
      spec.offset = tonumber(value)
    elseif key == "prefix" or key == "method" or key == "path" or key == "body" then
      spec[key] = value
    else
      error("scenario.lua: unexpected argument " .. args[i])
    end
  end
  if not dynamic() then
    static_request = wrk.format(spec.method, spec.path, spec.headers, spec.body)
  end
end

-- Replacements are functions, so that a value holding "%" is taken as it is.
local function fill(text, unique, turn)
  if text == nil then
    return nil
  end
  text = text:gsub(UNIQUE, function() return unique end)
  for name, values in pairs(spec.pools) do
    text = text:gsub(placeholder(name), function() return values[turn % #values + 1] end)
  end
  return text
end

function request()
  if static_request then
    return static_request
  end
  sequence = sequence + 1
  local unique = spec.prefix .. "-" .. id .. "-" .. sequence
  local turn = spec.offset + (sequence - 1) * spec.threads + (id - 1)
  local headers = {}
  for name, value in pairs(spec.headers) do
    headers[name] = fill(value, unique, turn)
  end
  return wrk.format(spec.method, fill(spec.path, unique, turn), headers, fill(spec.body, unique, turn))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local counts = {}
  for status, count in pairs(totals) do
    counts[#counts + 1] = string.format('"%d": %d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"duration_us": %d, "requests": %d, "statuses": {%s}, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration, summary.requests, table.concat(counts, ", "),
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
