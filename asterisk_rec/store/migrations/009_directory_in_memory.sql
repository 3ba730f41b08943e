-- The service keeps the directory in memory (calls are attributed while PostgreSQL is away); a change
-- tells it to load the directory again.
CREATE FUNCTION asterisk_rec_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('asterisk_rec_directory', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER organisations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organisations
    FOR EACH STATEMENT EXECUTE FUNCTION asterisk_rec_directory_changed();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION asterisk_rec_directory_changed();
CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION asterisk_rec_directory_changed();
