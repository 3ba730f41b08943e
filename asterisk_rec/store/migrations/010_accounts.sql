-- Accounts can be disabled (and so can a plain user's account whose directory user is removed), and a
-- session carries the account's session version: logging out, a new password or disabling the account
-- raises it, which ends every session of the account at once.
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz, ADD COLUMN session_version integer NOT NULL DEFAULT 0;
ALTER TABLE accounts DROP CONSTRAINT accounts_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_user_or_disabled
    CHECK (role = 'admin' OR user_id IS NOT NULL OR disabled_at IS NOT NULL);

-- A directory user removed: their plain account is disabled (it could see nobody's calls any more), so the
-- removal is never refused for it.
CREATE FUNCTION asterisk_rec_user_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET disabled_at = now(), session_version = session_version + 1
        WHERE user_id = OLD.id AND role = 'user' AND disabled_at IS NULL;
    RETURN OLD;
END $$;
CREATE TRIGGER users_removed BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION asterisk_rec_user_removed();
