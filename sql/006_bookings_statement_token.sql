-- Which booking statement inserted a row: a random number drawn for each statement
-- (src/db/booking-statement.ts). A statement whose connection dies before its answer arrives has
-- its slots looked up afterwards; a row holding its token is its booking, and any other row a
-- booking made before, even one of the same user: answering that as this request's 201 would hand
-- whoever named the user the booking's cancel token. NULL for rows written before this column.
-- No default and no index: adding it rewrites nothing, and only that lookup reads it.
ALTER TABLE bookings ADD COLUMN statement_token bigint;
