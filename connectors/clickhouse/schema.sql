-- Scorpius analytics tables. Valid on ClickHouse 18.16 (Debian's package) and on current releases:
-- no DateTime64, LowCardinality, UInt256 or Decimal256, which 18.16 lacks. uint256 amounts are exact
-- decimal strings, and value_eth is a Float64 twin for ranges and sums.
-- Idempotence: each table is a ReplacingMergeTree whose ORDER BY is the record's natural key, so a
-- row written twice (replay, retry, recovery) is one row after a merge and in SELECT ... FINAL.
-- `version` is the write time in ms: the newest copy wins.

CREATE TABLE IF NOT EXISTS transactions (
    chain_id UInt64,
    hash String,
    -- '' while pending: a pending and a mined sighting are two rows.
    block_hash String,
    block_number Nullable(UInt64),
    tx_index Nullable(UInt32),
    sender String,
    to_address Nullable(String),
    nonce Nullable(UInt64),
    value String,
    value_eth Float64,
    gas UInt64,
    tx_type UInt8,
    input String,
    selector Nullable(String),
    gas_price Nullable(String),
    max_fee_per_gas Nullable(String),
    max_priority_fee_per_gas Nullable(String),
    max_fee_per_blob_gas Nullable(String),
    blob_versioned_hashes Array(String),
    authorizations String,
    mint Nullable(String),
    source_hash Nullable(String),
    source String,
    first_seen_ms UInt64,
    first_seen DateTime,
    event_date Date,
    kind Nullable(String),
    method Nullable(String),
    call Nullable(String),
    swaps Nullable(String),
    to_label Nullable(String),
    sender_label Nullable(String),
    token Nullable(String),
    token_amount Nullable(String),
    counterparty Nullable(String),
    -- Mined txs: 'true' / 'false' / 'unknown' private order flow; NULL while pending.
    private Nullable(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (chain_id, hash, block_hash);

CREATE TABLE IF NOT EXISTS blocks (
    chain_id UInt64,
    number UInt64,
    -- '' when unknown (trace-only fixture blocks).
    hash String,
    parent_hash Nullable(String),
    timestamp UInt64,
    block_time DateTime,
    event_date Date,
    miner Nullable(String),
    base_fee_per_gas Nullable(String),
    tx_count UInt32,
    trace_count UInt32,
    first_seen_ms UInt64,
    source String,
    -- Txs by private status; NULL before the private-flow step saw the block.
    private_txs Nullable(UInt32),
    public_txs Nullable(UInt32),
    unknown_txs Nullable(UInt32),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (chain_id, number, hash);

CREATE TABLE IF NOT EXISTS mev_events (
    key String,
    kind String,
    chain_id UInt64,
    tx_hashes Array(String),
    first_seen_ms UInt64,
    detected_ms UInt64,
    first_seen DateTime,
    event_date Date,
    severity String,
    block_number Nullable(UInt64),
    -- The detector's specifics as JSON; integers are exact.
    data String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (chain_id, kind, key);

CREATE TABLE IF NOT EXISTS rule_matches (
    key String,
    rule_id String,
    severity String,
    message String,
    chain_id UInt64,
    tx_hash String,
    first_seen_ms UInt64,
    matched_ms UInt64,
    first_seen DateTime,
    event_date Date,
    tags Array(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (chain_id, rule_id, key);

CREATE TABLE IF NOT EXISTS alerts (
    key String,
    origin String,
    severity String,
    title String,
    chain_id UInt64,
    tx_hashes Array(String),
    first_seen_ms UInt64,
    created_ms UInt64,
    first_seen DateTime,
    event_date Date,
    tags Array(String),
    data String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (chain_id, key);

CREATE TABLE IF NOT EXISTS dead_letters (
    stage String,
    reason String,
    payload String,
    source String,
    chain_id Nullable(UInt64),
    at_ms UInt64,
    at DateTime,
    event_date Date,
    -- sha256 of (stage, reason, payload, source, at_ms): the natural key without long sort keys.
    letter_id String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (stage, at_ms, letter_id);
