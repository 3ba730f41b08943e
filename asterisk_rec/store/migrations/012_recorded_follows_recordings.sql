-- Reports > Calls' "recorded only" flag beside the call (call_organisations.recorded) follows the
-- recordings table by itself: set when a call's recording is stored, cleared when it is purged. So the
-- archive writes no table of the calls domain (each table has one module that writes it).
CREATE FUNCTION asterisk_rec_recording_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IN ('stored', 'purged') AND (TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state) THEN
        UPDATE call_organisations co SET recorded = (NEW.state = 'stored')
            FROM calls c WHERE c.id = co.call_id AND c.call_id = NEW.call_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER recording_stored AFTER INSERT OR UPDATE OF state ON recordings
    FOR EACH ROW EXECUTE FUNCTION asterisk_rec_recording_stored();
