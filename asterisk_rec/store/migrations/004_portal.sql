-- The portal and the API: accounts (organisation admins and users), API tokens, the audit log and legal
-- holds on recordings.

CREATE TABLE accounts (
    id              bigserial PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    email           text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name            text NOT NULL CHECK (name <> ''),
    role            text NOT NULL CHECK (role IN ('admin', 'user')),
    -- A plain user sees the calls of this directory user only.
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    language        text NOT NULL DEFAULT 'nl' CHECK (language IN ('nl', 'en')),
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (role = 'admin' OR user_id IS NOT NULL)
);
CREATE INDEX accounts_organisation ON accounts (organisation_id);

-- Integrators' tokens: only a hash is kept; the token is shown once, when made.
CREATE TABLE api_tokens (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    token_sha256    text NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);

-- Who did what, when, from where: every listen, download, settings change and hold.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    account_id      bigint REFERENCES accounts (id) ON DELETE SET NULL,
    actor           text NOT NULL,
    action          text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    details         jsonb NOT NULL DEFAULT '{}',
    remote_address  text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_organisation ON audit_log (organisation_id, at DESC, id DESC);

-- A recording under legal hold is never purged.
ALTER TABLE recordings ADD COLUMN legal_hold boolean NOT NULL DEFAULT false;

-- Reports > Calls: an organisation's calls newest first, filtered by date, user, number, direction and
-- "recorded only" (bench/calls_page.py measures them with and without these).
ALTER TABLE call_organisations ADD COLUMN started_at timestamptz;
UPDATE call_organisations co SET started_at = c.started_at FROM calls c WHERE c.id = co.call_id;
ALTER TABLE call_organisations ALTER COLUMN started_at SET NOT NULL;
CREATE INDEX call_organisations_page ON call_organisations (organisation_id, started_at DESC, call_id DESC);
CREATE INDEX calls_caller_user ON calls (caller_user_id, started_at DESC);
CREATE INDEX calls_callee_user ON calls (callee_user_id, started_at DESC);
