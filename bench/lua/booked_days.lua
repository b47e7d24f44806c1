-- booked_days.lua: post_book.lua's request stream with each date drawn at random from the next 300
-- days (tomorrow .. today+300), for ROOM1/user1. After the first few hundred requests every day is
-- booked, so nearly every answer is 409 already_booked, decided by the database in batches of
-- different slots: a load of popular slots, where nothing is inserted and every statement only
-- finds conflicts. The same Lua work per request as post_book.lua.
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/booked_days.lua http://127.0.0.1:PORT
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "status_counts.lua")

math.randomseed(os.time() + (tonumber(string.sub(tostring(os.clock()), 5)) or 0))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local offset_days = math.random(1, 300)
  local date = os.date("!*t", os.time() + offset_days * 86400)
  local formatted_date = string.format("%02d.%02d.%02d", date.day, date.month, date.year % 100)
  local body = string.format('{"room_name":"%s","user_name":"%s","date":"%s"}',
    string.format("ROOM%d", 1), string.format("user%d", 1), formatted_date)
  return wrk.format("POST", "/book", nil, body)
end
