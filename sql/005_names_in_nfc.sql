-- Names are stored in NFC after their case mapping (src/domain/names.ts). Until this migration NFC
-- came before it, and a case mapping can undo NFC: 'i' + U+0307 upper-cases to 'I' + U+0307, whose
-- NFC is U+0130. Such a name, sent back as the API returned it, no longer found its row (it found
-- the row holding the NFC form, or none). This brings the stored names into NFC, one row per NFC
-- form, and leaves a row as it is (reachable by id, and renamable) where another row already holds
-- that form or where the NFC form would break the length rules.
-- Unicode normalization needs a UTF8 database; in any other encoding the names stay as they are.
DO $$
DECLARE
  kind record;
BEGIN
  IF current_setting('server_encoding') <> 'UTF8' THEN RETURN; END IF;
  FOR kind IN SELECT * FROM (VALUES ('rooms', 16), ('users', 34)) AS k(tab, max_length) LOOP
    EXECUTE format($update$
      UPDATE %1$I t SET name = normalize(t.name, NFC)
      FROM (SELECT DISTINCT ON (normalize(name, NFC)) id FROM %1$I
            WHERE name IS NOT NFC NORMALIZED ORDER BY normalize(name, NFC), id) AS first
      WHERE t.id = first.id
        AND char_length(normalize(t.name, NFC)) BETWEEN 3 AND %2$s
        AND NOT EXISTS (SELECT FROM %1$I o WHERE o.name = normalize(t.name, NFC))
    $update$, kind.tab, kind.max_length);
  END LOOP;
END $$;
