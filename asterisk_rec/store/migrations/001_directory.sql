-- Organisations, their users, the users' devices, and each user's recording policy with its history.

CREATE TABLE organisations (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    time_zone   text NOT NULL DEFAULT 'Europe/Amsterdam',
    language    text NOT NULL DEFAULT 'nl' CHECK (language IN ('nl', 'en')),
    -- What the dialplan does when the app is not running: connect unrecorded ('open') or refuse ('closed').
    fail_mode   text NOT NULL DEFAULT 'open' CHECK (fail_mode IN ('open', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    extension       text NOT NULL,
    name            text NOT NULL CHECK (name <> ''),
    email           text,
    language        text NOT NULL DEFAULT 'nl' CHECK (language IN ('nl', 'en')),
    recording_mode  text NOT NULL DEFAULT 'off' CHECK (recording_mode IN ('off', 'always', 'on_demand')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organisation_id, extension)
);

CREATE TABLE devices (
    id        bigserial PRIMARY KEY,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind      text NOT NULL CHECK (kind IN ('desk', 'app', 'mobile')),
    -- A PJSIP endpoint for desk phones and apps; an E.164 number for a mobile, reached over the trunk.
    endpoint  text UNIQUE,
    number    text UNIQUE,
    CHECK ((kind = 'mobile' AND number IS NOT NULL AND endpoint IS NULL)
        OR (kind <> 'mobile' AND endpoint IS NOT NULL AND number IS NULL))
);
CREATE INDEX devices_user ON devices (user_id);

-- Every change of a user's recording mode, for the monthly statement (a user counts for a month in
-- which recording was on for any day).
CREATE TABLE recording_mode_changes (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode IN ('off', 'always', 'on_demand')),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recording_mode_changes_user ON recording_mode_changes (user_id, changed_at);
