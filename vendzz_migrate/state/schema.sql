-- vendzz-migrate's own state, kept in the target database beside the data it describes.
-- Every finished unit of work is committed in the SAME transaction as its rows, so a crash or
-- kill -9 at any moment leaves state and data in agreement and --resume neither loses nor
-- duplicates a row.
CREATE SCHEMA IF NOT EXISTS {state};

CREATE TABLE IF NOT EXISTS {state}.runs (
    run_id        text PRIMARY KEY,
    target_schema text NOT NULL,
    fingerprint   text NOT NULL,
    source        text NOT NULL,
    snapshot      text NOT NULL,
    options       jsonb NOT NULL,
    mapping       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'running',   -- running | done
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

CREATE TABLE IF NOT EXISTS {state}.steps (
    run_id      text NOT NULL REFERENCES {state}.runs ON DELETE CASCADE,
    step        text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    detail      jsonb,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE IF NOT EXISTS {state}.units (
    run_id           text NOT NULL REFERENCES {state}.runs ON DELETE CASCADE,
    table_name       text NOT NULL,
    seq              integer NOT NULL,
    lo               jsonb,            -- exclusive lower key bound (NULL: unbounded)
    hi               jsonb,            -- inclusive upper key bound (NULL: unbounded)
    done             boolean NOT NULL DEFAULT false,
    source_rows      bigint,
    copied_rows      bigint,
    rejected_rows    bigint,
    converted_values bigint,
    seconds          double precision,
    PRIMARY KEY (run_id, table_name, seq)
);

CREATE TABLE IF NOT EXISTS {state}.rejects (
    id           bigserial PRIMARY KEY,
    run_id       text NOT NULL,
    table_name   text NOT NULL,
    source_key   jsonb NOT NULL,       -- primary key values (or rowid) as in SQLite
    column_name  text,                 -- the offending column, when known
    raw_value    jsonb,                -- that column's raw SQLite value, encoded losslessly
    raw_row      jsonb NOT NULL,       -- every column's raw SQLite value, encoded losslessly
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS rejects_run_table ON {state}.rejects (run_id, table_name);

-- The bytes of a rejected row's values over 16 MB (source.pieces.LARGE_BYTES), which are never
-- read whole: in raw_value / raw_row such a value is a reference,
--   {"type": "text" | "blob", "large": {"bytes": N, "md5": "<hex>", "pieces": "<state>.reject_pieces"}}
-- (plus "encoding": "UTF-16le" etc. for text of a file not stored as UTF-8: then the bytes are
-- that encoding's), and its stored bytes are here, in pieces of 1 MB (4 MB in a WITHOUT ROWID
-- table), in order:
--   SELECT string_agg(piece, '' ORDER BY seq) FROM {state}.reject_pieces
--    WHERE reject_id = <rejects.id> AND column_name = <column>;
-- (a bytea of the exact SQLite value; over 1 GB, read the pieces in seq order instead).
-- A reject's row is written first, then its pieces, then its references' size and md5.
CREATE TABLE IF NOT EXISTS {state}.reject_pieces (
    reject_id    bigint NOT NULL REFERENCES {state}.rejects ON DELETE CASCADE,
    column_name  text NOT NULL,
    seq          integer NOT NULL,     -- 0, 1, ...: the pieces' order
    piece        bytea NOT NULL,
    PRIMARY KEY (reject_id, column_name, seq)
);

CREATE TABLE IF NOT EXISTS {state}.objects (
    run_id text NOT NULL REFERENCES {state}.runs ON DELETE CASCADE,
    kind   text NOT NULL,              -- table | view
    name   text NOT NULL,
    PRIMARY KEY (run_id, kind, name)
);

CREATE TABLE IF NOT EXISTS {state}.orphans (
    run_id        text NOT NULL REFERENCES {state}.runs ON DELETE CASCADE,
    table_name    text NOT NULL,
    constraint_name text NOT NULL,
    ref_table     text NOT NULL,
    orphan_rows   bigint NOT NULL,
    sample        jsonb NOT NULL,
    PRIMARY KEY (run_id, constraint_name)
);

CREATE TABLE IF NOT EXISTS {state}.notes (
    run_id      text NOT NULL REFERENCES {state}.runs ON DELETE CASCADE,
    object      text NOT NULL,
    message     text NOT NULL,            -- for humans
    replacement jsonb                     -- the typed record verify reads (state/records.py)
);
-- state schemas made before notes had a replacement column
ALTER TABLE {state}.notes ADD COLUMN IF NOT EXISTS replacement jsonb;
