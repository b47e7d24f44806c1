-- Settings every host must share, such as the secret behind cancel tokens (src/domain/access.ts).
-- Values are written once by the first primary that starts (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE roombook_settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);
