-- original_request.lua: shared by the scripts that send post_book.lua's requests on other dates
-- (past_date, one_slot, booked_days; loaded with dofile from the script's folder). It builds the
-- request for a moment in time with post_book.lua's own steps (os.date, DD.MM.YY, ROOM1/user1 through
-- string.format, the body through string.format), so the load generator does the same work per
-- request as under the original script and only the date differs.
function original_request(timestamp)
  local date = os.date("!*t", timestamp)
  local formatted_date = string.format("%02d.%02d.%02d", date.day, date.month, date.year % 100)
  local body = string.format('{"room_name":"%s","user_name":"%s","date":"%s"}',
    string.format("ROOM%d", 1), string.format("user%d", 1), formatted_date)
  return wrk.format("POST", "/book", nil, body)
end
