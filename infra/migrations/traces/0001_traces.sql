-- Trace records (shared/src/traces/postgres.rs): one row per record, keyed by
-- its time-sortable id so a record delivered twice is stored once. The columns
-- beside `record` are what the read side filters on.
CREATE TABLE mirra_traces (
    id          text    PRIMARY KEY,
    session     text    NOT NULL,
    incarnation text,
    workspace   text,
    kind        text    NOT NULL,
    mirror      text,
    time_ms     bigint  NOT NULL,
    method      text,
    path        text,
    status      integer,
    record      json    NOT NULL
);

-- A session's records in id order: every list and tail reads this.
CREATE INDEX mirra_traces_session_id ON mirra_traces (session, id);
