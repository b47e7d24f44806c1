-- Rooms and users are looked up by their normalised name; ids are what bookings reference.
-- The CHECK constraints repeat the rules of src/domain/names.ts so that no writer can bypass them.
-- Case is checked under COLLATE "C" (ASCII letters only): JavaScript's full Unicode case mapping
-- and the server's locale may disagree on other letters, and a disagreement must not become a 500.
CREATE TABLE rooms (
  id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE
       CHECK (char_length(name) BETWEEN 3 AND 16 AND name = btrim(name) AND name = upper(name COLLATE "C"))
);

CREATE TABLE users (
  id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE
       CHECK (char_length(name) BETWEEN 3 AND 34 AND name = btrim(name) AND name = lower(name COLLATE "C"))
);

-- UNIQUE (room_id, day) is the whole double-booking guarantee: every booking is one
-- INSERT ... ON CONFLICT (room_id, day) DO NOTHING, across processes and hosts.
-- ON DELETE CASCADE: deleting a room or user takes its bookings with it; the API refuses
-- that for bookings today or later unless asked (?cascade=true).
CREATE TABLE bookings (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id    integer NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  user_id    integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  day        date NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT bookings_room_day_key UNIQUE (room_id, day)
);

-- Filtering by user and cascading user deletes; (room_id, day) is covered by the unique index.
CREATE INDEX bookings_user_day_idx ON bookings (user_id, day);
