-- Attended transfers: the target the transferor consulted takes the call over; the consultation was a call
-- of its own (its row stays), named here.
ALTER TABLE call_transfers ADD COLUMN consultation_call_id text;
ALTER TABLE call_transfers DROP CONSTRAINT call_transfers_kind_check;
ALTER TABLE call_transfers ADD CONSTRAINT call_transfers_kind_check
    CHECK (kind IN ('blind', 'attended', 'ring_back', 'forward_always', 'forward_busy', 'forward_no_answer',
                    'pickup'));
