-- wrk script: POSTs the body in $OMT_BODY_FILE and prints one machine-readable result line at the end.
local f = assert(io.open(os.getenv("OMT_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
-- $OMT_AUTHORIZATION, when set, is sent as the Authorization header (e.g. "Basic ..." for /v1/batch).
local authorization = os.getenv("OMT_AUTHORIZATION")
if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end
-- $OMT_AUTHORIZATIONS, when set (several, space-separated): each request the next of them, in turn (several
-- sources, so several API keys, from one wrk).
local authorizations = {}
for a in string.gmatch(os.getenv("OMT_AUTHORIZATIONS") or "", "[^ ]+ [^ ]+") do table.insert(authorizations, a) end
if #authorizations > 1 then
  local requests, next_one = {}, 0
  function init(args)
    for i, a in ipairs(authorizations) do
      wrk.headers["Authorization"] = a
      requests[i] = wrk.format()
    end
  end
  function request()
    next_one = next_one % #requests + 1
    return requests[next_one]
  end
end
-- $OMT_CONTENT_FORMAT, when set, is sent as X-Content-Format (json+compactedv1: rudder-server's compacted bodies).
local content_format = os.getenv("OMT_CONTENT_FORMAT")
if content_format and content_format ~= "" then wrk.headers["X-Content-Format"] = content_format end

function done(summary, latency, requests)
  local non_2xx = summary.errors.status
  local socket_errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), non_2xx, socket_errors))
end
