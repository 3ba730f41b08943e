-- Which of a recorded user's calls are recorded: by direction and by reach (all on: every call, as before).
ALTER TABLE users
    ADD COLUMN record_incoming boolean NOT NULL DEFAULT true,
    ADD COLUMN record_outgoing boolean NOT NULL DEFAULT true,
    ADD COLUMN record_internal boolean NOT NULL DEFAULT true,
    ADD COLUMN record_external boolean NOT NULL DEFAULT true,
    ADD CONSTRAINT users_record_some_call CHECK ((record_incoming OR record_outgoing)
                                                 AND (record_internal OR record_external));
