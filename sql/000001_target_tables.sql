-- The three target tables of the ATSPro migration, exactly as in
-- reference/postgresql-migration-schema.md, plus the two columns every mirrored row carries
-- (DESIGN.md §2, invariant 2):
--   legacy_rev  the ArangoDB _rev string of the image the row was built from (verification;
--               decoded it is the write time in ms). It does not order changes: ticks do.
--   legacy_tick the WAL tick of the change that produced the row (the snapshot's tick for rows
--               loaded by a snapshot). An upsert only replaces a row when its tick is newer.
--
-- legacy_tick is bigint by contract, while ArangoDB ticks are uint64. They are RocksDB sequence
-- numbers, which RocksDB keeps below 2^56, so real values never come near 2^63. A tick above
-- 9223372036854775807 is not wrapped to a negative number (that would sort it before every older
-- change and let stale images win): writing it fails with SQLSTATE 22003
-- (numeric_value_out_of_range), the apply transaction rolls back and the daemon stops with a
-- fatal error instead of storing a row it cannot order. The daemon's own tables keep full uint64
-- ticks (arango_sync.uint64, 000002), so such an event can still be journalled and dead-lettered.
--
-- Rows written by the application after cutover have no legacy_* values, hence nullable.
--
-- "user" and tasks belong to better-auth and the application; they must exist before this runs
-- (the migrator checks and says so). gen_random_uuid() is built in from PostgreSQL 13 on.

CREATE TABLE resumes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    legacy_id TEXT UNIQUE,
    legacy_rev TEXT,
    legacy_tick BIGINT,
    task_id UUID REFERENCES tasks(id),
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    source VARCHAR(20) DEFAULT 'upload',
    resume_data JSONB NOT NULL DEFAULT '{}',
    file_metadata JSONB,
    error_message TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT resumes_status_check
        CHECK (status IN ('pending', 'parsing', 'parsed', 'failed', 'manual')),
    CONSTRAINT resumes_source_check
        CHECK (source IN ('upload', 'manual', 'import'))
);

CREATE INDEX idx_resumes_user_id ON resumes(user_id);
CREATE INDEX idx_resumes_status ON resumes(status);
CREATE INDEX idx_resumes_created_at ON resumes(created_at DESC);
CREATE INDEX idx_resumes_legacy_id ON resumes(legacy_id) WHERE legacy_id IS NOT NULL;

CREATE INDEX idx_resumes_data_full_name ON resumes
    USING gin ((resume_data -> 'contact_info' -> 'full_name'));
CREATE INDEX idx_resumes_data_skills ON resumes
    USING gin ((resume_data -> 'skills'));
CREATE INDEX idx_resumes_data_search ON resumes
    USING gin (resume_data);

CREATE TABLE jobs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    legacy_id TEXT UNIQUE,
    legacy_rev TEXT,
    legacy_tick BIGINT,
    task_id UUID REFERENCES tasks(id),
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    source_type VARCHAR(20) DEFAULT 'url',
    source_url TEXT,
    source_filename TEXT,
    parsed_data JSONB NOT NULL DEFAULT '{}',
    scores JSONB,
    error_message TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT jobs_status_check
        CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    CONSTRAINT jobs_source_type_check
        CHECK (source_type IN ('url', 'document', 'manual'))
);

CREATE INDEX idx_jobs_user_id ON jobs(user_id);
CREATE INDEX idx_jobs_status ON jobs(status);
CREATE INDEX idx_jobs_created_at ON jobs(created_at DESC);
CREATE INDEX idx_jobs_legacy_id ON jobs(legacy_id) WHERE legacy_id IS NOT NULL;

CREATE INDEX idx_jobs_data_company ON jobs
    USING gin ((parsed_data -> 'company'));
CREATE INDEX idx_jobs_data_title ON jobs
    USING gin ((parsed_data -> 'title'));
CREATE INDEX idx_jobs_data_search ON jobs
    USING gin (parsed_data);

CREATE TABLE optimization_results (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
    legacy_id TEXT UNIQUE,
    legacy_rev TEXT,
    legacy_tick BIGINT,
    resume_id UUID NOT NULL REFERENCES resumes(id) ON DELETE CASCADE,
    job_id UUID NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    task_id UUID REFERENCES tasks(id),
    result_type VARCHAR(20) NOT NULL,
    result_data JSONB NOT NULL,
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT optimization_result_type_check
        CHECK (result_type IN ('optimization', 'research', 'score', 'analysis'))
);

CREATE INDEX idx_optimization_results_user_id ON optimization_results(user_id);
CREATE INDEX idx_optimization_results_resume_id ON optimization_results(resume_id);
CREATE INDEX idx_optimization_results_job_id ON optimization_results(job_id);
CREATE INDEX idx_optimization_results_type ON optimization_results(result_type);
CREATE INDEX idx_optimization_results_created_at ON optimization_results(created_at DESC);
CREATE INDEX idx_optimization_results_legacy_id ON optimization_results(legacy_id) WHERE legacy_id IS NOT NULL;

CREATE INDEX idx_optimization_results_user_type ON optimization_results(user_id, result_type);
CREATE INDEX idx_optimization_results_resume_job ON optimization_results(resume_id, job_id);

COMMENT ON COLUMN resumes.legacy_id IS 'ArangoDB _key of the mirrored document (resumes collection)';
COMMENT ON COLUMN resumes.legacy_rev IS 'ArangoDB _rev of the image this row was built from';
COMMENT ON COLUMN resumes.legacy_tick IS 'WAL tick of the change that produced this row; newer ticks win';
COMMENT ON COLUMN jobs.legacy_id IS 'ArangoDB _key of the mirrored document (jobs collection)';
COMMENT ON COLUMN jobs.legacy_rev IS 'ArangoDB _rev of the image this row was built from';
COMMENT ON COLUMN jobs.legacy_tick IS 'WAL tick of the change that produced this row; newer ticks win';
COMMENT ON COLUMN optimization_results.legacy_id IS 'ArangoDB _key of the mirrored document (documents collection)';
COMMENT ON COLUMN optimization_results.legacy_rev IS 'ArangoDB _rev of the image this row was built from';
COMMENT ON COLUMN optimization_results.legacy_tick IS 'WAL tick of the change that produced this row; newer ticks win';
