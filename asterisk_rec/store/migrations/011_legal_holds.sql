-- A legal hold belongs to the organisation that placed it: a recording owned by two organisations stays
-- while either holds it, and each sees, places and lifts only its own hold.
CREATE TABLE recording_holds (
    recording_id    bigint NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    organisation_id bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    placed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recording_id, organisation_id)
);
INSERT INTO recording_holds (recording_id, organisation_id)
    SELECT id, organisation_id FROM recordings WHERE legal_hold;
ALTER TABLE recordings DROP COLUMN legal_hold;
