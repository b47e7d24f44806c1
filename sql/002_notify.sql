-- Every worker keeps a name -> id cache of rooms and users, kept current by these notifications
-- (src/db/listen.ts). Payload: JSON {kind, op, id, name, old?}; op 'reload' (sent by bulk loaders
-- that disable these triggers) asks every worker for a full reload.
-- Bookings never notify: NOTIFY takes a database-wide lock at commit, which would serialise
-- the booking hot path.
CREATE FUNCTION roombook_notify_name_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind text := CASE TG_TABLE_NAME WHEN 'rooms' THEN 'room' ELSE 'user' END;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('roombook_names', json_build_object('kind', kind, 'op', 'insert', 'id', NEW.id, 'name', NEW.name)::text);
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.name IS DISTINCT FROM OLD.name OR NEW.id <> OLD.id THEN
      PERFORM pg_notify('roombook_names', json_build_object('kind', kind, 'op', 'update', 'id', NEW.id, 'name', NEW.name, 'old', OLD.name)::text);
    END IF;
  ELSE
    PERFORM pg_notify('roombook_names', json_build_object('kind', kind, 'op', 'delete', 'id', OLD.id, 'name', OLD.name)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER rooms_notify AFTER INSERT OR UPDATE OR DELETE ON rooms
  FOR EACH ROW EXECUTE FUNCTION roombook_notify_name_change();
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION roombook_notify_name_change();
