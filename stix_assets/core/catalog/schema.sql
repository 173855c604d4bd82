-- stix-assets catalog schema (DuckDB). Plain tables, so `duckdb catalog.duckdb "select * from tm_files"`
-- works. Timestamps are UTC without a zone. Every statement is idempotent (IF NOT EXISTS); the
-- catalog runs this file at the start of every write.

-- key/value facts about the file: 'schema_version' (see the end of this file)
CREATE TABLE IF NOT EXISTS catalog_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
);

-- Every content version of every TM/TC file ever seen: one row per (name, sha256).
CREATE TABLE IF NOT EXISTS tm_file_versions (
    name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    path VARCHAR,                 -- absolute, resolved (incoming folders are outside the archive)
    size BIGINT,
    kind VARCHAR,                 -- TM or TC
    status VARCHAR NOT NULL,      -- indexed / failed / duplicate / incomplete
    error VARCHAR,
    n_packets BIGINT,
    n_quarantined BIGINT,
    packets_by_kind JSON,         -- {"21_6_30": n, "3_25_2": n, ...}
    scet_coarse_min BIGINT,
    scet_coarse_max BIGINT,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    last_indexed TIMESTAMP NOT NULL,
    PRIMARY KEY (name, sha256)
);

-- The current content of each file name (the version seen last), derived from tm_file_versions.
CREATE TABLE IF NOT EXISTS tm_files (
    name VARCHAR PRIMARY KEY,
    path VARCHAR,
    size BIGINT,
    sha256 VARCHAR NOT NULL,
    kind VARCHAR,
    content_version INTEGER NOT NULL,   -- 1 = first content seen under this name, 2 = next, ...
    n_versions INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    n_packets BIGINT,
    n_quarantined BIGINT,
    packets_by_kind JSON,
    scet_coarse_min BIGINT,
    scet_coarse_max BIGINT,
    first_seen TIMESTAMP NOT NULL,      -- first time any content of this name was seen
    last_seen TIMESTAMP NOT NULL,
    last_indexed TIMESTAMP NOT NULL
);

-- Which TM file touched which (product, SCET day); a union over all content versions.
CREATE TABLE IF NOT EXISTS tm_file_days (
    tm_name VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    scet_day DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tm_name, product, scet_day)
);

-- Every product file written (LB, L0, L1, ...), one row per file; the newest write wins.
CREATE TABLE IF NOT EXISTS product_files (
    path VARCHAR PRIMARY KEY,     -- relative to the archive root (absolute only outside it)
    level VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    partition_day DATE,           -- SCET day for LB/L0, UTC day for L1+ (the partition key)
    request_id BIGINT,            -- BSD request, else NULL
    version INTEGER NOT NULL,     -- processing version (V01, V02, ...)
    sha256 VARCHAR NOT NULL,
    size BIGINT,
    n_rows BIGINT,
    inputs VARCHAR[],
    written_at TIMESTAMP NOT NULL,
    run_id VARCHAR,
    data_version VARCHAR,
    needs_reprocessing BOOLEAN DEFAULT false  -- L1+: made with kernels that do not cover it fully
);
-- catalogs created before the column existed
ALTER TABLE product_files ADD COLUMN IF NOT EXISTS needs_reprocessing BOOLEAN DEFAULT false;

-- Which TM files fed which LB file (a union: LB files are merged, never shrunk).
CREATE TABLE IF NOT EXISTS lb_inputs (
    lb_path VARCHAR NOT NULL,     -- as product_files.path
    tm_name VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (lb_path, tm_name)
);

-- Quarantined packets; packet_index -1 = the problem concerns the whole file.
CREATE TABLE IF NOT EXISTS quarantine (
    file VARCHAR NOT NULL,
    packet_index BIGINT NOT NULL,
    reason VARCHAR NOT NULL,
    packet_id BIGINT,
    spid BIGINT,
    hex_prefix VARCHAR,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (file, packet_index, reason)
);

-- catalog_meta 'schema_version' is written by stix_assets.core.catalog.migrate once the tables
-- have the current form ('2': product paths relative to the archive root).
