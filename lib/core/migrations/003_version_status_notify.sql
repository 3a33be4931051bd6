-- 003_version_status_notify: archiving (or reactivating) a version sends
-- NOTIFY swarm_registry {"model": NAME, "kind": "version", "version": N,
-- "status": S}.  Workers keep pinned versions in their cache; without this
-- they never heard that one was archived and served it until evicted.
CREATE FUNCTION registry.notify_version_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
        PERFORM pg_notify('swarm_registry', json_build_object(
                'model', (SELECT name FROM registry.models WHERE id = NEW.model_id),
                'kind', 'version', 'version', NEW.version,
                'status', NEW.status)::text);
        RETURN NULL;
END
$$;
CREATE TRIGGER versions_status_notify AFTER UPDATE OF status ON registry.versions
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION registry.notify_version_status();
