-- Export jobs (OGC API Processes, asynchronous execution), queued in PostgreSQL.
--
-- Why here and not in files or memory: any app replica accepts a job, any worker
-- runs it (claimed with FOR UPDATE SKIP LOCKED), any replica serves its result,
-- and jobs and results survive a restart. The result (bounded by the export size
-- limit) is written in the same transaction that marks the job successful: a
-- failed or interrupted job never has a file.
--
-- Access: jobs live on the primary with the register; the gate role (which
-- already knows who is logged in and writes the audit log) reads and writes
-- them; the data service role (diffusion only, maybe a read replica) has no
-- USAGE on the schema. Ownership (a job is seen only by its owner, or an
-- administrator) is enforced by the application on every query (owner = login).
CREATE SCHEMA jobs AUTHORIZATION lls_owner;
REVOKE ALL ON SCHEMA jobs FROM PUBLIC;
GRANT USAGE ON SCHEMA jobs TO lls_gate;

CREATE TABLE jobs.job (
    job_id          uuid PRIMARY KEY,
    owner           text NOT NULL REFERENCES register.account (login) ON DELETE CASCADE,
    process_id      text NOT NULL,
    inputs          jsonb NOT NULL,
    -- OGC API Processes status values.
    status          text NOT NULL DEFAULT 'accepted'
                    CHECK (status IN ('accepted', 'running', 'successful', 'failed',
                                      'dismissed')),
    progress        smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    message         text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,       -- claims so far (1 = first run)
    worker          text,                             -- host:pid of the last claimer
    run_token       uuid,                             -- this claim; a stale worker cannot finish
    lease_until     timestamptz,                      -- heartbeat; past it, the run is lost
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,                      -- end of the result's retention
    result          bytea,
    result_mimetype text,
    result_filename text,
    result_bytes    bigint,
    CONSTRAINT result_only_when_successful CHECK (result IS NULL OR status = 'successful'),
    CONSTRAINT running_has_lease CHECK (status <> 'running' OR lease_until IS NOT NULL)
);
-- XLSX is already compressed: keep the result out of line, uncompressed.
ALTER TABLE jobs.job ALTER COLUMN result SET STORAGE EXTERNAL;

CREATE INDEX job_queue ON jobs.job (created_at) WHERE status = 'accepted';
CREATE INDEX job_running ON jobs.job (lease_until) WHERE status = 'running';
CREATE INDEX job_owner ON jobs.job (owner, created_at DESC);
CREATE INDEX job_expiry ON jobs.job (expires_at) WHERE expires_at IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON jobs.job TO lls_gate;
