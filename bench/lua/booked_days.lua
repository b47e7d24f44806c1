-- booked_days.lua: post_book.lua's request stream with each date drawn at random from the next 300
-- days (tomorrow .. today+300), for ROOM1/user1. After the first few hundred requests every day is
-- booked, so nearly every answer is 409 already_booked, decided by the database in batches of
-- different slots: a load of popular slots, where nothing is inserted and every statement only
-- finds conflicts. The same Lua work per request as post_book.lua.
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/booked_days.lua http://127.0.0.1:PORT
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "status_counts.lua")
dofile(here .. "original_request.lua")

math.randomseed(os.time() + (tonumber(string.sub(tostring(os.clock()), 5)) or 0))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  return original_request(os.time() + math.random(1, 300) * 86400)
end
