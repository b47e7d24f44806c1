-- Bookings keep their room and user ids without FOREIGN KEY constraints. A foreign-key check is a
-- trigger per inserted row (a lookup and a KEY SHARE lock on the room and on the user, which
-- writes the row again): about a fifth of the booking statement's CPU under load (perf). The two
-- writers that matter keep the reference instead, by one rule:
--   * bookings are inserted only by the batch statement (src/db/booking-statement.ts), which reads
--     each row's room and user in the same statement;
--   * a room or user is deleted (src/db/named.ts) only after LOCK TABLE bookings IN SHARE ROW
--     EXCLUSIVE MODE, which waits for every transaction inserting bookings to end and holds new
--     ones off until the delete commits; its bookings are deleted in the same transaction.
-- A booking therefore commits before the delete (which then sees it) or starts after it (its
-- statement takes its snapshot after its table lock, and finds no room). Whoever writes these
-- tables by hand must follow the same rule.
ALTER TABLE bookings
  DROP CONSTRAINT IF EXISTS bookings_room_id_fkey,
  DROP CONSTRAINT IF EXISTS bookings_user_id_fkey;
