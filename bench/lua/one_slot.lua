-- one_slot.lua: post_book.lua's request stream with one date for every request (30 days from when
-- wrk starts), so every request asks for the same (ROOM1, day). The first is booked, the rest are
-- 409 already_booked; a batch holds one row however many requests it answers (later requests for a
-- slot already in the batch follow the first). That is roombook's whole path, database included,
-- without the database's work per row. The same Lua work per request as post_book.lua.
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/one_slot.lua http://127.0.0.1:PORT
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "status_counts.lua")
dofile(here .. "original_request.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local slot_time = os.time() + 30 * 86400

request = function()
  return original_request(slot_time)
end
