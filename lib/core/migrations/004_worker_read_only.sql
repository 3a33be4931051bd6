-- 004_worker_read_only: the worker role (swarm_worker) reads the registry
-- and LISTENs, nothing else; swarm-registry runs as swarm_admin.  001 granted
-- only SELECT, but grants accumulate: this states the contract again (a
-- hand-made GRANT on a cluster is undone by the next migrate) and makes
-- tables added later by the migrating role readable, not writable, by
-- workers.  tests/registry/test_roles.sh checks it table by table.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
        ON ALL TABLES IN SCHEMA registry FROM swarm_worker, PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA registry FROM swarm_worker, PUBLIC;
REVOKE CREATE ON SCHEMA registry FROM swarm_worker, PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA registry TO swarm_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA registry GRANT SELECT ON TABLES TO swarm_worker;
