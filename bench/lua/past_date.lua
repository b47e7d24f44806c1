-- past_date.lua: post_book.lua's request stream with every date in the past (per thread yesterday,
-- the day before, ... up to a year back, as DD.MM.YY). roombook answers each one 409 date_in_past
-- before the database: what is left is its HTTP path and checks, to set beside the ceiling server.
-- The same Lua work per request as post_book.lua, so the load generator costs the same.
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/past_date.lua http://127.0.0.1:PORT
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "status_counts.lua")
dofile(here .. "original_request.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

thread_offset = 0

request = function()
  local offset_days = 1 + thread_offset % 365
  thread_offset = thread_offset + 1

  return original_request(os.time() - offset_days * 86400)
end
