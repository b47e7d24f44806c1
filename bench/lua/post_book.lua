-- post_book.lua: the original project's wrk script (shared/bench/post_book.lua), same request
-- stream: room ROOM1, user user1, and per thread the dates today+0, today+1, ... as DD.MM.YY.
-- Differences, none of which changes a request: the random seed (unused) cannot fail on a short
-- os.clock() string, and status counting plus a JSON summary line are added (status_counts.lua).
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/post_book.lua http://127.0.0.1:PORT
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "status_counts.lua")

math.randomseed(os.time() + (tonumber(string.sub(tostring(os.clock()), 5)) or 0))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local base_day = 0
local user_id = 1
local room_id = 1

thread_offset = 0

request = function()
  local offset_days = base_day + thread_offset
  thread_offset = thread_offset + 1

  local timestamp = os.time() + offset_days * 86400
  local date = os.date("!*t", timestamp)
  local formatted_date = string.format("%02d.%02d.%02d", date.day, date.month, date.year % 100)

  local payload = {
    room_name = string.format("ROOM%d", room_id),
    user_name = string.format("user%d", user_id),
    date = formatted_date
  }

  local body = string.format(
    '{"room_name":"%s","user_name":"%s","date":"%s"}',
    payload.room_name, payload.user_name, payload.date
  )

  return wrk.format("POST", "/book", nil, body)
end
