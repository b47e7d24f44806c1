-- past_date.lua: post_book.lua's request stream with every date in the past (per thread yesterday,
-- the day before, ... up to a year back, as DD.MM.YY). roombook answers each one 409 date_in_past
-- before the database: what is left is its HTTP path and checks, to set beside the ceiling server.
-- The same Lua work per request as post_book.lua, so the load generator costs the same.
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/past_date.lua http://127.0.0.1:PORT
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "status_counts.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

thread_offset = 0

request = function()
  local offset_days = 1 + thread_offset % 365
  thread_offset = thread_offset + 1

  local date = os.date("!*t", os.time() - offset_days * 86400)
  local formatted_date = string.format("%02d.%02d.%02d", date.day, date.month, date.year % 100)
  local body = string.format('{"room_name":"%s","user_name":"%s","date":"%s"}',
    string.format("ROOM%d", 1), string.format("user%d", 1), formatted_date)
  return wrk.format("POST", "/book", nil, body)
end
