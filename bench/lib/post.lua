-- wrk script for bench/lib/providers.py: POST one API's JSON body on every request.
--
--   wrk ... -s bench/lib/post.lua http://127.0.0.1:3100/v1/chat/completions -- BODY_FILE MODE
--
-- BODY_FILE holds the body with the marker @MESSAGE@ where the user message goes.
-- MODE "fresh": a different message on every request (thread number and counter), as
-- load tools vary their prompts; MODE "same": one message, the same bytes every time.

local prefix, suffix, fixed
local sent = 0
local threads = 0

local function message(n)
  return "Request " .. id .. "-" .. n .. ": in a few sentences, why does streaming make a chat interface feel fast?"
end

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  local i, j = body:find("@MESSAGE@", 1, true)
  assert(i, "no @MESSAGE@ in " .. args[1])
  prefix, suffix = body:sub(1, i - 1), body:sub(j + 1)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[2] == "same" then
    fixed = wrk.format(nil, nil, nil, prefix .. message(0) .. suffix)
  else
    assert(args[2] == "fresh", "MODE is fresh or same, not " .. tostring(args[2]))
  end
end

function request()
  if fixed then
    return fixed
  end
  sent = sent + 1
  return wrk.format(nil, nil, nil, prefix .. message(sent) .. suffix)
end
