-- fresh_bookings.lua: nearly every request is a real insert. Requests walk the slots
-- base, base+1, ... (thread t of T sends base + k*T + t), and slot s maps one-to-one onto
-- (room, day) pairs while s < rooms*days: room = s % rooms, day = (s / rooms + room*7) % days,
-- day 0 being tomorrow (UTC), so days spread over the next two years and no two requests of
-- a run (nor of runs whose bases do not overlap) ask for the same slot.
-- Arguments after --: rooms=N users=N days=N base=N threads=N (wrk's -t; defaults below).
-- Rooms ROOM1..ROOMn and users user1..userN must exist (bench/run.ts seeds them).
-- By hand: wrk -t4 -c64 -d10s -s bench/lua/fresh_bookings.lua http://127.0.0.1:PORT -- rooms=10000 threads=4
dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "status_counts.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

fresh_settings = { rooms = 10000, users = 1000, days = 730, base = 0, threads = 4 }
local dates = {}
sent = 0

function init(args)
  for _, arg in ipairs(args) do
    local key, value = arg:match("^(%w+)=(%d+)$")
    if not key or fresh_settings[key] == nil then error("fresh_bookings.lua: unknown argument " .. arg) end
    fresh_settings[key] = tonumber(value)
  end
  -- The day strings are made once: formatting a date per request would cost the load generator.
  local tomorrow = os.time() + 86400
  for day = 0, fresh_settings.days - 1 do
    dates[day] = os.date("!%d.%m.%y", tomorrow + day * 86400)
  end
end

request = function()
  local slot = fresh_settings.base + sent * fresh_settings.threads + thread_index
  sent = sent + 1
  local s = slot % (fresh_settings.rooms * fresh_settings.days)
  local room = s % fresh_settings.rooms
  local day = (math.floor(s / fresh_settings.rooms) + room * 7) % fresh_settings.days
  local body = string.format('{"room_name":"ROOM%d","user_name":"user%d","date":"%s"}',
    room + 1, slot % fresh_settings.users + 1, dates[day])
  return wrk.format("POST", "/book", nil, body)
end

-- The first slot no thread has used: the base of a next run that must not repeat a slot.
-- Runs in wrk's main Lua state, which never saw init(args): the settings come from a thread.
function result_extra(threads)
  local used = threads[1]:get("fresh_settings")
  local most = 0
  for _, thread in ipairs(threads) do most = math.max(most, thread:get("sent") or 0) end
  local extra = { next_base = used.base + most * used.threads, slots = used.rooms * used.days }
  if used.threads ~= #threads then
    extra.warning = string.format("threads=%d given but wrk ran %d threads: slots may repeat", used.threads, #threads)
  end
  return extra
end
