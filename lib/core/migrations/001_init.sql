-- 001_init: models, versions, aliases, deployment settings, their history,
-- NOTIFY triggers and the two group roles.
--
-- Runs inside the transaction swarm-registry migrate opens, under its
-- advisory lock; it is recorded in registry.schema_migrations and never runs
-- twice.  Role creation is guarded because roles are cluster-wide (another
-- database of the same cluster may have created them already).

DO $$
BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'swarm_admin') THEN
                CREATE ROLE swarm_admin NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'swarm_worker') THEN
                CREATE ROLE swarm_worker NOLOGIN;
        END IF;
END
$$;

CREATE TABLE registry.models (
        id          bigserial PRIMARY KEY,
        name        text NOT NULL UNIQUE CHECK (name <> ''),
        description text NOT NULL DEFAULT '',
        owner       text NOT NULL DEFAULT session_user,
        created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry.versions (
        model_id    bigint NOT NULL REFERENCES registry.models (id),
        version     integer NOT NULL CHECK (version > 0),
        -- the artifact lives in `artifact` (bytea) or at `uri` (file://...)
        artifact    bytea,
        uri         text,
        sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size        bigint NOT NULL CHECK (size >= 0),
        format      text NOT NULL DEFAULT 'onnx',
        inputs      jsonb NOT NULL DEFAULT '[]',
        outputs     jsonb NOT NULL DEFAULT '[]',
        metadata    jsonb NOT NULL DEFAULT '{}',
        tags        jsonb NOT NULL DEFAULT '{}',
        status      text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'archived')),
        created_by  text NOT NULL DEFAULT session_user,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (model_id, version),
        CHECK ((artifact IS NULL) <> (uri IS NULL))
);
-- bytea values above ~2 kB are TOASTed anyway; EXTERNAL skips compressing
-- ONNX weights (float data does not compress) so reads are cheaper.
ALTER TABLE registry.versions ALTER COLUMN artifact SET STORAGE EXTERNAL;

CREATE TABLE registry.aliases (
        model_id    bigint NOT NULL,
        alias       text NOT NULL CHECK (alias <> ''),
        version     integer NOT NULL,
        updated_by  text NOT NULL DEFAULT session_user,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (model_id, alias),
        FOREIGN KEY (model_id, version) REFERENCES registry.versions (model_id, version)
);

CREATE TABLE registry.deployments (
        model_id       bigint PRIMARY KEY REFERENCES registry.models (id),
        request_topic  text,
        result_topic   text,
        max_batch_rows integer CHECK (max_batch_rows > 0),
        max_delay_us   bigint CHECK (max_delay_us >= 0),
        device         text CHECK (device IN ('cpu', 'cuda')),
        precision      text CHECK (precision IN ('fp32', 'fp16', 'bf16')),
        min_workers    integer CHECK (min_workers >= 0),
        max_workers    integer CHECK (max_workers >= 0),
        lag_target     bigint CHECK (lag_target >= 0),
        updated_by     text NOT NULL DEFAULT session_user,
        updated_at     timestamptz NOT NULL DEFAULT now(),
        CHECK (min_workers IS NULL OR max_workers IS NULL OR min_workers <= max_workers)
);
CREATE INDEX deployments_request_topic ON registry.deployments (request_topic);

-- Append-only: every alias move (kind 'alias', name = the alias, from/to
-- versions) and every deployment setting change (kind 'config', name = the
-- key, from/to values).  Rollback reads it.
CREATE TABLE registry.history (
        id           bigserial PRIMARY KEY,
        model_id     bigint NOT NULL REFERENCES registry.models (id),
        kind         text NOT NULL CHECK (kind IN ('alias', 'config')),
        name         text NOT NULL,
        from_version integer,
        to_version   integer,
        from_value   text,
        to_value     text,
        changed_by   text NOT NULL DEFAULT session_user,
        changed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        reason       text NOT NULL DEFAULT ''
);
CREATE INDEX history_model ON registry.history (model_id, kind, name, id);

CREATE FUNCTION registry.history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
        RAISE EXCEPTION 'registry.history is append-only';
END
$$;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON registry.history
        FOR EACH ROW EXECUTE FUNCTION registry.history_append_only();

-- An alias may only point at an active version; an aliased version cannot be
-- archived.  The CLI checks first for a friendly message; these are the
-- backstop for any other writer.
CREATE FUNCTION registry.alias_target_active() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
        IF (SELECT status FROM registry.versions
            WHERE model_id = NEW.model_id AND version = NEW.version) <> 'active' THEN
                RAISE EXCEPTION 'version % is archived', NEW.version
                        USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
END
$$;
CREATE TRIGGER aliases_target_active BEFORE INSERT OR UPDATE ON registry.aliases
        FOR EACH ROW EXECUTE FUNCTION registry.alias_target_active();

CREATE FUNCTION registry.archive_unaliased() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
        IF NEW.status = 'archived' AND OLD.status <> 'archived' AND EXISTS (
                SELECT 1 FROM registry.aliases
                WHERE model_id = NEW.model_id AND version = NEW.version) THEN
                RAISE EXCEPTION 'version % is the target of an alias', NEW.version
                        USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
END
$$;
CREATE TRIGGER versions_archive_unaliased BEFORE UPDATE ON registry.versions
        FOR EACH ROW EXECUTE FUNCTION registry.archive_unaliased();

-- NOTIFY swarm_registry with {"model": NAME, "kind": "alias"|"deployment",
-- ...}.  Sent at commit, so listeners never see an uncommitted state.
CREATE FUNCTION registry.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
        r record;
        m text;
BEGIN
        IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
        SELECT name INTO m FROM registry.models WHERE id = r.model_id;
        IF TG_TABLE_NAME = 'aliases' THEN
                PERFORM pg_notify('swarm_registry', json_build_object(
                        'model', m, 'kind', 'alias', 'alias', r.alias,
                        'version', CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE r.version END)::text);
        ELSE
                PERFORM pg_notify('swarm_registry', json_build_object(
                        'model', m, 'kind', 'deployment')::text);
        END IF;
        RETURN NULL;
END
$$;
CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON registry.aliases
        FOR EACH ROW EXECUTE FUNCTION registry.notify_change();
CREATE TRIGGER deployments_notify AFTER INSERT OR UPDATE OR DELETE ON registry.deployments
        FOR EACH ROW EXECUTE FUNCTION registry.notify_change();

-- Privileges: workers read and LISTEN (LISTEN needs no grant); admins write.
-- Nobody but the owner may UPDATE or DELETE history.
REVOKE ALL ON ALL TABLES IN SCHEMA registry FROM PUBLIC;
GRANT USAGE ON SCHEMA registry TO swarm_admin, swarm_worker;
GRANT SELECT ON ALL TABLES IN SCHEMA registry TO swarm_admin, swarm_worker;
GRANT INSERT, UPDATE ON registry.models, registry.versions, registry.aliases,
        registry.deployments TO swarm_admin;
GRANT DELETE ON registry.aliases TO swarm_admin;
GRANT INSERT ON registry.history TO swarm_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA registry TO swarm_admin;
