-- Reports > Calls reads one index: what each filter looks at is kept beside the organisation and the
-- start, so a page (a deep one too) is found by an index-only scan and only its rows are joined
-- (bench/calls_page.py measures it, with and without).
ALTER TABLE call_organisations
    ADD COLUMN direction text,
    ADD COLUMN caller text,
    ADD COLUMN callee text,
    ADD COLUMN caller_user_id bigint,
    ADD COLUMN callee_user_id bigint,
    ADD COLUMN recorded boolean NOT NULL DEFAULT false;
UPDATE call_organisations co
SET direction = c.direction, caller = c.caller, callee = c.callee, caller_user_id = c.caller_user_id,
    callee_user_id = c.callee_user_id,
    recorded = EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = c.call_id AND r.state = 'stored')
FROM calls c WHERE c.id = co.call_id;
DROP INDEX call_organisations_page;
DROP INDEX calls_caller_user;
DROP INDEX calls_callee_user;
CREATE INDEX call_organisations_page ON call_organisations (organisation_id, started_at DESC, call_id DESC)
    INCLUDE (direction, caller, callee, caller_user_id, callee_user_id, recorded);
