//! The audit trail's rows, chained: each row's `hash` is the HMAC-SHA256 of its content (the
//! row as JSON with `hash` empty), which includes its id and the previous row's hash, under a
//! key derived from the master key ([`ChainKey`]). Whoever can write to the store but does not
//! hold the master key can neither edit a row nor give a forged row a hash that verifies (a
//! plain hash chain they could recompute from the edited row on). Appending
//! first takes the `audit_head` row's lock (PostgreSQL) or the store's write lock (SQLite), so
//! writers on several nodes sharing a store append one after another and the chain never
//! forks.

use std::borrow::Cow;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sea_query::{Condition, Expr, ExprTrait, Iden, Order, Query, SelectStatement};
use serde::Serialize;

use super::store::Tx;
use super::{Store, SystemError};
use crate::statement::{OwnSqlite, Template};

#[derive(Iden, Clone, Copy)]
pub enum AuditEvents {
    Table,
    Id,
    Ts,
    RequestId,
    Kind,
    Transport,
    Tool,
    Principal,
    UserId,
    Email,
    Provider,
    AppId,
    RoleId,
    Client,
    Method,
    Service,
    Resource,
    Params,
    Status,
    ErrorCode,
    RowsCount,
    LatencyUs,
    Changes,
    PrevHash,
    Hash,
    Response,
}

#[derive(Iden)]
pub enum AuditHead {
    Table,
    Id,
    LastId,
    Hash,
    /// The last row retention purged (`audit/purge`), 0 before any.
    PurgedId,
    PurgedHash,
    /// `ChainKey::purge_mac` of the two ('' before a purge signed it).
    PurgedMac,
}

/// Every column, in the order rows are read and hashed.
const COLUMNS: [AuditEvents; 25] = [
    AuditEvents::Id,
    AuditEvents::Ts,
    AuditEvents::RequestId,
    AuditEvents::Kind,
    AuditEvents::Transport,
    AuditEvents::Tool,
    AuditEvents::Principal,
    AuditEvents::UserId,
    AuditEvents::Email,
    AuditEvents::Provider,
    AuditEvents::AppId,
    AuditEvents::RoleId,
    AuditEvents::Client,
    AuditEvents::Method,
    AuditEvents::Service,
    AuditEvents::Resource,
    AuditEvents::Params,
    AuditEvents::Status,
    AuditEvents::ErrorCode,
    AuditEvents::RowsCount,
    AuditEvents::LatencyUs,
    AuditEvents::Changes,
    AuditEvents::PrevHash,
    AuditEvents::Hash,
    AuditEvents::Response,
];

/// A text column whose value is usually one of a few constants (`kind`, `transport`,
/// `principal`, `method`): borrowed when an event is made, so a request
/// allocates nothing for it; owned when a row is read back.
pub type Label = Cow<'static, str>;

/// A text column whose value is usually short (a request id, a client address, a service
/// name, a path, an email address, the parameters): kept inside the event itself up to `N`
/// bytes (at most 255), on the heap beyond. An event is made on a request's worker and dropped
/// by the audit writer's thread; a `String` in it would be one more allocation freed on
/// another core than the one that allocated it, and the worker pays a cache miss when it
/// reuses that memory (about 1 µs of its CPU a request under GET by id, measured 2026-12-05;
/// `bench/README.md`). The event's own box is the one such allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct ShortText<const N: usize = 62>(Repr<N>);

/// The query parameters' JSON text: most fit in 126 bytes (the bench's filtered list: 77).
pub type Params = ShortText<126>;

#[derive(Clone, PartialEq, Eq)]
enum Repr<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(String),
}

impl<const N: usize> ShortText<N> {
    /// Bytes kept inline: 62 hold a UUID request id, an IPv6 address, most paths. The length
    /// is a byte, so a larger `N` fails to compile rather than never keeping anything inline.
    pub const INLINE: usize = {
        assert!(
            N <= u8::MAX as usize,
            "ShortText keeps at most 255 bytes inline"
        );
        N
    };

    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only ever copied from a `str` whole, so always UTF-8.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(s) => s,
        }
    }

    /// The text's bytes, not checked again: the writer hashes, scrubs and binds every text
    /// of every event, and checking each inline text's UTF-8 at each of those uses was 5 %
    /// of its CPU.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    fn inline(s: &str) -> Option<Self> {
        let len = u8::try_from(s.len())
            .ok()
            .filter(|&n| usize::from(n) <= Self::INLINE)?;
        let mut bytes = [0; N];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self(Repr::Inline { len, bytes }))
    }
}

impl<const N: usize> Default for ShortText<N> {
    fn default() -> Self {
        Self(Repr::Inline {
            len: 0,
            bytes: [0; N],
        })
    }
}

impl<const N: usize> std::ops::Deref for ShortText<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> From<&str> for ShortText<N> {
    fn from(s: &str) -> Self {
        Self::inline(s).unwrap_or_else(|| Self(Repr::Heap(s.to_owned())))
    }
}

/// A short `String` is copied inline and freed here, on the thread that made it.
impl<const N: usize> From<String> for ShortText<N> {
    fn from(s: String) -> Self {
        Self::inline(&s).unwrap_or(Self(Repr::Heap(s)))
    }
}

impl<const N: usize> PartialEq<&str> for ShortText<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> std::fmt::Debug for ShortText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> std::fmt::Display for ShortText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> Serialize for ShortText<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<DB: sqlx::Database, const N: usize> sqlx::Type<DB> for ShortText<N>
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database, const N: usize> sqlx::Decode<'r, DB> for ShortText<N>
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        <&str as sqlx::Decode<DB>>::decode(value).map(Self::from)
    }
}

/// One audit row. `params` and `changes` are JSON text, kept byte for byte as hashed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    /// Unix microseconds.
    pub ts: i64,
    pub request_id: ShortText,
    /// `request`, `login`, `login_failed`, `logout` or `change`.
    #[sqlx(try_from = "String")]
    pub kind: Label,
    /// `rest` or `mcp`.
    #[sqlx(try_from = "String")]
    pub transport: Label,
    /// The MCP tool, for `mcp`.
    pub tool: Option<ShortText>,
    /// `admin`, `user`, `app` or `anonymous`.
    #[sqlx(try_from = "String")]
    pub principal: Label,
    pub user_id: Option<i64>,
    pub email: Option<ShortText>,
    /// The identity provider (service name) that vouched for the user.
    pub provider: Option<ShortText>,
    pub app_id: Option<i64>,
    pub role_id: Option<i64>,
    pub client: ShortText,
    #[sqlx(try_from = "String")]
    pub method: Label,
    pub service: Option<ShortText>,
    pub resource: Option<ShortText>,
    pub params: Params,
    pub status: i64,
    pub error_code: Option<ShortText>,
    pub rows_count: Option<i64>,
    pub latency_us: i64,
    /// `{"before": …, "after": …}` for system changes.
    pub changes: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// The response body, when captured (`audit.capture_roles`, `audit.capture_tables`).
    /// Absent from the hashed JSON when not captured, so rows from before capture existed
    /// hash as they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// The key of the chain's hashes: HMAC-SHA256 under a key derived from the master key, so
/// every node holding the master key appends to one chain and `rampart audit verify` checks
/// it, and nobody else can.
#[derive(Clone)]
pub struct ChainKey(Hmac<sha2::Sha256>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(*****)")
    }
}

impl ChainKey {
    #[must_use]
    pub fn new(master: &super::crypto::MasterKey) -> Self {
        let mut block = [0_u8; 64];
        block[..32].copy_from_slice(&master.derive("rampart audit chain v1"));
        Self(<Hmac<sha2::Sha256> as Mac>::new(&block.into()))
    }

    /// The signature of a purge's record: the last row it deleted, and that row's hash (which
    /// the first row left names as its predecessor).
    #[must_use]
    pub fn purge_mac(&self, purged_id: i64, purged_hash: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(format!("purged\0{purged_id}\0{purged_hash}").as_bytes());
        super::crypto::hex(&mac.finalize().into_bytes())
    }
}

impl AuditRecord {
    /// The hash this row should carry: HMAC-SHA256 under `key` of the row as JSON with `hash`
    /// empty. `scratch` is a buffer to serialize into, reused across rows.
    #[must_use]
    pub fn digest(&self, key: &ChainKey, scratch: &mut Vec<u8>) -> String {
        scratch.clear();
        self.write_hashed(scratch);
        // The key's pads are hashed once, when it is made; each row costs one block more
        // than a plain SHA-256.
        let mut mac = key.0.clone();
        mac.update(scratch);
        super::crypto::hex(&mac.finalize().into_bytes())
    }

    /// The hash rows written before the chain was keyed carry: the SHA-256 of the same text.
    fn unkeyed_digest(&self, scratch: &mut Vec<u8>) -> String {
        use sha2::Digest;
        scratch.clear();
        self.write_hashed(scratch);
        super::crypto::hex(&sha2::Sha256::digest(scratch.as_slice()))
    }

    /// Writes the row as its hash covers it: the JSON serde writes for this struct with `hash`
    /// empty, byte for byte (the stored hashes depend on it; a test holds the two together),
    /// without going through serde, since this runs for every event: the keys are constants
    /// and a value with nothing to escape is copied as it is.
    fn write_hashed(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, s: &[u8]) {
            if !needs_escape(s) {
                out.push(b'"');
                out.extend_from_slice(s);
                out.push(b'"');
            } else {
                // Writing into memory cannot fail; the bytes are a `str`'s, so nothing is
                // replaced.
                let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(s));
            }
        }
        fn opt_text(out: &mut Vec<u8>, s: Option<&[u8]>) {
            match s {
                Some(s) => text(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        fn int(out: &mut Vec<u8>, n: i64) {
            let _ = serde_json::to_writer(&mut *out, &n);
        }
        fn opt_int(out: &mut Vec<u8>, n: Option<i64>) {
            match n {
                Some(n) => int(out, n),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"{\"id\":");
        int(out, self.id);
        out.extend_from_slice(b",\"ts\":");
        int(out, self.ts);
        out.extend_from_slice(b",\"request_id\":");
        text(out, self.request_id.as_bytes());
        out.extend_from_slice(b",\"kind\":");
        text(out, self.kind.as_bytes());
        out.extend_from_slice(b",\"transport\":");
        text(out, self.transport.as_bytes());
        out.extend_from_slice(b",\"tool\":");
        opt_text(out, self.tool.as_ref().map(ShortText::as_bytes));
        out.extend_from_slice(b",\"principal\":");
        text(out, self.principal.as_bytes());
        out.extend_from_slice(b",\"user_id\":");
        opt_int(out, self.user_id);
        out.extend_from_slice(b",\"email\":");
        opt_text(out, self.email.as_ref().map(ShortText::as_bytes));
        out.extend_from_slice(b",\"provider\":");
        opt_text(out, self.provider.as_ref().map(ShortText::as_bytes));
        out.extend_from_slice(b",\"app_id\":");
        opt_int(out, self.app_id);
        out.extend_from_slice(b",\"role_id\":");
        opt_int(out, self.role_id);
        out.extend_from_slice(b",\"client\":");
        text(out, self.client.as_bytes());
        out.extend_from_slice(b",\"method\":");
        text(out, self.method.as_bytes());
        out.extend_from_slice(b",\"service\":");
        opt_text(out, self.service.as_ref().map(ShortText::as_bytes));
        out.extend_from_slice(b",\"resource\":");
        opt_text(out, self.resource.as_ref().map(ShortText::as_bytes));
        out.extend_from_slice(b",\"params\":");
        text(out, self.params.as_bytes());
        out.extend_from_slice(b",\"status\":");
        int(out, self.status);
        out.extend_from_slice(b",\"error_code\":");
        opt_text(out, self.error_code.as_ref().map(ShortText::as_bytes));
        out.extend_from_slice(b",\"rows_count\":");
        opt_int(out, self.rows_count);
        out.extend_from_slice(b",\"latency_us\":");
        int(out, self.latency_us);
        out.extend_from_slice(b",\"changes\":");
        opt_text(out, self.changes.as_deref().map(str::as_bytes));
        out.extend_from_slice(b",\"prev_hash\":");
        text(out, self.prev_hash.as_bytes());
        out.extend_from_slice(b",\"hash\":\"\"");
        if let Some(response) = &self.response {
            out.extend_from_slice(b",\"response\":");
            text(out, response.as_bytes());
        }
        out.push(b'}');
    }

    /// Replaces NUL characters in every text with U+FFFD: PostgreSQL's `text` refuses them,
    /// and one event holding one (a failed sign-in's e-mail as sent) would fail its whole
    /// batch on every retry. Done before hashing, on either store, so a row is the same
    /// wherever it is kept.
    fn scrub_nul(&mut self) {
        fn scrub<const N: usize>(t: &mut ShortText<N>) {
            if t.as_bytes().contains(&0) {
                *t = t.replace('\0', "\u{FFFD}").into();
            }
        }
        fn scrub_string(t: &mut String) {
            if t.contains('\0') {
                *t = t.replace('\0', "\u{FFFD}");
            }
        }
        scrub(&mut self.request_id);
        scrub(&mut self.client);
        scrub(&mut self.params);
        for t in [
            &mut self.tool,
            &mut self.email,
            &mut self.provider,
            &mut self.service,
            &mut self.resource,
            &mut self.error_code,
        ]
        .into_iter()
        .flatten()
        {
            scrub(t);
        }
        for t in [&mut self.changes, &mut self.response]
            .into_iter()
            .flatten()
        {
            scrub_string(t);
        }
        for t in [
            &mut self.kind,
            &mut self.transport,
            &mut self.principal,
            &mut self.method,
        ] {
            if t.contains('\0') {
                *t = t.replace('\0', "\u{FFFD}").into();
            }
        }
    }

    /// This row's values in `COLUMNS` order.
    fn fields(&self) -> [Field<'_>; COLUMNS.len()] {
        use Field::{Int, Text};
        [
            Int(Some(self.id)),
            Int(Some(self.ts)),
            Text(Some(self.request_id.as_bytes())),
            Text(Some(self.kind.as_bytes())),
            Text(Some(self.transport.as_bytes())),
            Text(self.tool.as_ref().map(ShortText::as_bytes)),
            Text(Some(self.principal.as_bytes())),
            Int(self.user_id),
            Text(self.email.as_ref().map(ShortText::as_bytes)),
            Text(self.provider.as_ref().map(ShortText::as_bytes)),
            Int(self.app_id),
            Int(self.role_id),
            Text(Some(self.client.as_bytes())),
            Text(Some(self.method.as_bytes())),
            Text(self.service.as_ref().map(ShortText::as_bytes)),
            Text(self.resource.as_ref().map(ShortText::as_bytes)),
            Text(Some(self.params.as_bytes())),
            Int(Some(self.status)),
            Text(self.error_code.as_ref().map(ShortText::as_bytes)),
            Int(self.rows_count),
            Int(Some(self.latency_us)),
            Text(self.changes.as_deref().map(str::as_bytes)),
            Text(Some(self.prev_hash.as_bytes())),
            Text(Some(self.hash.as_bytes())),
            Text(self.response.as_deref().map(str::as_bytes)),
        ]
    }

    /// Binds this row's values to `q`, in `COLUMNS` order.
    fn bind<'q, DB: sqlx::Database>(
        &'q self,
        q: sqlx::query::Query<'q, DB, DB::Arguments>,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments>
    where
        Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        self.fields().into_iter().fold(q, |q, field| match field {
            Field::Int(v) => q.bind(v),
            // The bytes of a `str`, so always UTF-8.
            Field::Text(v) => q.bind(v.map(|b| std::str::from_utf8(b).unwrap_or_default())),
        })
    }

    /// Binds this row's values to `st` from parameter `first` (1-based) on.
    fn bind_own(&self, st: &mut rusqlite::Statement<'_>, first: usize) -> rusqlite::Result<()> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        for (i, field) in self.fields().into_iter().enumerate() {
            match field {
                Field::Int(v) => st.raw_bind_parameter(first + i, v)?,
                Field::Text(v) => st.raw_bind_parameter(
                    first + i,
                    v.map(|b| ToSqlOutput::Borrowed(ValueRef::Text(b))),
                )?,
            }
        }
        Ok(())
    }
}

/// One value of a row, as bound.
enum Field<'a> {
    Int(Option<i64>),
    /// A text's UTF-8 bytes.
    Text(Option<&'a [u8]>),
}

/// Whether JSON escapes something in `s`: a quote, a backslash or a control character.
/// Eight bytes at a time, since every text of every event is scanned: a word has a byte
/// below `n` (for `n` ≤ 128) exactly when `(x - n·0x01…) & !x & 0x80…` is not zero, and a
/// byte equal to `c` when `x ^ c·0x01…` has a byte below 1.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        if below(x, 0x20)
            || below(x ^ (ONES * u64::from(b'"')), 1)
            || below(x ^ (ONES * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[derive(sqlx::FromRow)]
struct Head {
    last_id: i64,
    hash: String,
}

/// Rows per INSERT at most (25 parameters each, well under both backends' limits). Smaller
/// INSERTs take a power of two rows, so only eight statement shapes exist: each is rendered
/// once per backend, parsed once per connection and then reused.
const INSERT_CHUNK: usize = 128;
const INSERT_SHAPES: usize = INSERT_CHUNK.ilog2() as usize + 1;

/// The INSERT of `2^k` rows, for each backend (SQLite's `OR FAIL`: `append` rolls back on
/// any error, so a statement need not be able to undo itself), and the head's statements.
struct Templates {
    sqlite: [Template; INSERT_SHAPES],
    postgres: [Template; INSERT_SHAPES],
    /// SQLite: `last_id` and `hash` of the head (row 1, bound).
    head: Template,
    /// SQLite: sets the head's `last_id` and `hash` (bound, then row 1).
    set_head: Template,
}

fn templates() -> &'static Templates {
    static TEMPLATES: OnceLock<Templates> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let shape = |k: usize| {
            let mut insert = Query::insert();
            insert.into_table(AuditEvents::Table).columns(COLUMNS);
            for _ in 0..1_usize << k {
                // Placeholders: each row's own values are bound by `AuditRecord::bind`.
                insert.values_panic(COLUMNS.map(|_| Expr::val(0_i64)));
            }
            insert
        };
        Templates {
            sqlite: std::array::from_fn(|k| Template::sqlite_insert_or_fail(&shape(k))),
            postgres: std::array::from_fn(|k| Template::postgres(&shape(k))),
            head: Template::sqlite(&head_select()),
            set_head: Template::sqlite(&head_update(0, String::new())),
        }
    })
}

fn head_select() -> SelectStatement {
    Query::select()
        .columns([AuditHead::LastId, AuditHead::Hash])
        .from(AuditHead::Table)
        .and_where(Expr::col(AuditHead::Id).eq(1))
        .to_owned()
}

fn head_update(last_id: i64, hash: String) -> sea_query::UpdateStatement {
    Query::update()
        .table(AuditHead::Table)
        .value(AuditHead::LastId, last_id)
        .value(AuditHead::Hash, hash)
        .and_where(Expr::col(AuditHead::Id).eq(1))
        .to_owned()
}

/// Chains `events` after the head (`last_id`, `hash`): assigns each its `id`, `prev_hash`
/// and `hash`. Returns the new head.
fn chain(
    key: &ChainKey,
    events: &mut [Box<AuditRecord>],
    mut last_id: i64,
    mut hash: String,
) -> (i64, String) {
    let mut scratch = Vec::with_capacity(1024);
    for e in events.iter_mut() {
        e.scrub_nul();
        last_id += 1;
        e.id = last_id;
        e.prev_hash = std::mem::take(&mut hash);
        e.hash = e.digest(key, &mut scratch);
        hash.clone_from(&e.hash);
    }
    (last_id, hash)
}

/// `len` rows split into INSERTs of the shapes there are: (k, the rows of an INSERT of 2^k).
fn chunks(len: usize) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = len - at;
        (rest > 0).then(|| {
            let k = rest.min(INSERT_CHUNK).ilog2() as usize;
            let rows = at..at + (1 << k);
            at = rows.end;
            (k, rows)
        })
    })
}

/// Appends `events` (their `id`, `prev_hash` and `hash` are assigned here, again on every
/// attempt) in one transaction. The audit writer uses [`OwnAppender`] instead when the
/// store is a SQLite file.
///
/// A retry of a batch whose COMMIT went through but whose answer was lost (the connection to
/// PostgreSQL broke) stores nothing: the last event still carries the id and hash that
/// attempt gave it, and the row of that id holding that hash (which covers the whole chain
/// before it) can only be that batch's.
pub async fn append(
    store: &Store,
    key: &ChainKey,
    events: &mut [Box<AuditRecord>],
) -> Result<(), SystemError> {
    let mut tx = store.begin().await?;
    // Take the head's row lock before reading it.
    tx.execute(
        &Query::update()
            .table(AuditHead::Table)
            .value(AuditHead::LastId, Expr::col(AuditHead::LastId))
            .and_where(Expr::col(AuditHead::Id).eq(1))
            .to_owned(),
    )
    .await?;
    let head: Head = tx
        .one(&head_select())
        .await?
        .ok_or_else(|| SystemError::Invalid("the audit head row is missing".into()))?;
    if let Some(last) = events.last().filter(|e| !e.hash.is_empty()) {
        let stored: Option<Purgeable> = tx
            .one(
                &Query::select()
                    .columns([AuditEvents::Id, AuditEvents::Ts, AuditEvents::Hash])
                    .from(AuditEvents::Table)
                    .and_where(Expr::col(AuditEvents::Id).eq(last.id))
                    .to_owned(),
            )
            .await?;
        if stored.is_some_and(|row| row.hash == last.hash) {
            return Ok(());
        }
    }
    let (last_id, hash) = chain(key, events, head.last_id, head.hash);
    let events: &[Box<AuditRecord>] = events;
    for (k, rows) in chunks(events.len()) {
        let rows = &events[rows];
        match &mut tx {
            Tx::Sqlite(t) => {
                let q = rows
                    .iter()
                    .fold(templates().sqlite[k].lite(), |q, e| e.bind(q));
                q.execute(&mut **t).await?;
            }
            Tx::Postgres(t) => {
                let q = rows
                    .iter()
                    .fold(templates().postgres[k].pg(), |q, e| e.bind(q));
                q.execute(&mut **t).await?;
            }
        }
    }
    tx.execute(&head_update(last_id, hash)).await?;
    tx.commit().await
}

/// Appends to a SQLite store over a connection of its own (the audit writer's thread, see
/// `audit::writer`): the same rows as [`append`], each value bound straight from its event,
/// the statements prepared once.
pub struct OwnAppender<'c> {
    conn: &'c OwnSqlite,
    key: ChainKey,
    head: rusqlite::Statement<'c>,
    set_head: rusqlite::Statement<'c>,
    inserts: Vec<rusqlite::Statement<'c>>,
}

impl<'c> OwnAppender<'c> {
    /// Prepares the statements on `conn`.
    pub fn new(conn: &'c OwnSqlite, key: ChainKey) -> Result<Self, SystemError> {
        let t = templates();
        Ok(Self {
            conn,
            key,
            head: conn.prepare(&t.head)?,
            set_head: conn.prepare(&t.set_head)?,
            inserts: t
                .sqlite
                .iter()
                .map(|insert| conn.prepare(insert))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Appends `events` (their `id`, `prev_hash` and `hash` assigned here, again on every
    /// attempt) in one transaction, which holds the store's write lock throughout.
    ///
    /// Each INSERT's rows are chained just before it runs, and between INSERTs the thread
    /// yields the CPU (it is the writer's own): a batch is then a series of short steps that
    /// request threads waiting for a core can come between, not one long one.
    pub fn append(&mut self, events: &mut [Box<AuditRecord>]) -> Result<(), SystemError> {
        let tx = self.conn.begin()?;
        self.head.raw_bind_parameter(1, 1_i64)?;
        let (mut last_id, mut hash) = {
            let mut rows = self.head.raw_query();
            let row = rows
                .next()?
                .ok_or_else(|| SystemError::Invalid("the audit head row is missing".into()))?;
            (row.get::<_, i64>(0)?, row.get::<_, String>(1)?)
        };
        for (k, rows) in chunks(events.len()) {
            let events = &mut events[rows];
            (last_id, hash) = chain(&self.key, events, last_id, hash);
            let insert = &mut self.inserts[k];
            for (i, e) in events.iter().enumerate() {
                e.bind_own(insert, 1 + i * COLUMNS.len())?;
            }
            insert.raw_execute()?;
            std::thread::yield_now();
        }
        self.set_head.raw_bind_parameter(1, last_id)?;
        self.set_head.raw_bind_parameter(2, hash.as_str())?;
        self.set_head.raw_bind_parameter(3, 1_i64)?;
        self.set_head.raw_execute()?;
        tx.commit()?;
        Ok(())
    }
}

fn select(filter: Condition) -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(AuditEvents::Table)
        .cond_where(filter)
        .to_owned()
}

/// A page of rows matching `filter`, newest first unless `oldest_first`.
pub async fn page(
    store: &Store,
    filter: Condition,
    oldest_first: bool,
    limit: u64,
    offset: u64,
) -> Result<Vec<AuditRecord>, SystemError> {
    let order = if oldest_first {
        Order::Asc
    } else {
        Order::Desc
    };
    store
        .all(
            &select(filter)
                .order_by(AuditEvents::Id, order)
                .limit(limit)
                .offset(offset)
                .to_owned(),
        )
        .await
}

/// How many rows match `filter`.
pub async fn count(store: &Store, filter: Condition) -> Result<i64, SystemError> {
    store
        .scalar_i64(
            &Query::select()
                .expr(Expr::col(AuditEvents::Id).count())
                .from(AuditEvents::Table)
                .cond_where(filter)
                .to_owned(),
        )
        .await
}

/// One thing a role did, and when last.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Usage {
    pub service: Option<String>,
    pub resource: Option<String>,
    pub method: String,
    /// Unix microseconds.
    pub last: i64,
}

/// What requests under `role_id` succeeded since `since` (unix microseconds), each distinct
/// service, resource and method with its latest time.
pub async fn usage_of_role(
    store: &Store,
    role_id: i64,
    since: i64,
) -> Result<Vec<Usage>, SystemError> {
    store
        .all(
            &Query::select()
                .columns([
                    AuditEvents::Service,
                    AuditEvents::Resource,
                    AuditEvents::Method,
                ])
                .expr_as(
                    Expr::col(AuditEvents::Ts).max(),
                    sea_query::Alias::new("last"),
                )
                .from(AuditEvents::Table)
                .and_where(Expr::col(AuditEvents::RoleId).eq(role_id))
                .and_where(Expr::col(AuditEvents::Status).lt(400))
                .and_where(Expr::col(AuditEvents::Ts).gte(since))
                .group_by_columns([
                    AuditEvents::Service,
                    AuditEvents::Resource,
                    AuditEvents::Method,
                ])
                .to_owned(),
        )
        .await
}

/// Rows a purge deletes per transaction, at most: the store's writer (the audit writer
/// among them, on SQLite) never waits long for it.
const PURGE_CHUNK: u64 = 10_000;

#[derive(sqlx::FromRow)]
struct RowId {
    id: i64,
}

/// The rows a purge looks at.
#[derive(sqlx::FromRow)]
struct Purgeable {
    id: i64,
    ts: i64,
    hash: String,
}

/// Both ends of the chain, as `audit_head` records them.
#[derive(sqlx::FromRow)]
struct Ends {
    last_id: i64,
    hash: String,
    purged_id: i64,
    purged_hash: String,
    purged_mac: String,
}

/// Deletes the events older than `before` (unix microseconds) from the start of the chain;
/// how many went. Only a prefix of the chain goes — its rows before the first one (by id)
/// that is not older than `before` — so that the chain left is whole from its first row on.
/// Events are chained in the order their responses finished, not their requests began: a
/// slow request's event follows events of requests that began after it, and deleting by time
/// alone would leave gaps that `verify` reports as rows removed. The few events older than
/// `before` just past the boundary go at the next purge.
/// The record of where the chain starts is signed with `key`, so that `verify` can tell it
/// from one moved on by someone who deleted the oldest events.
pub async fn purge(store: &Store, key: &ChainKey, before: i64) -> Result<u64, SystemError> {
    let mut purged = 0;
    loop {
        let first: Vec<Purgeable> = store
            .all(
                &Query::select()
                    .columns([AuditEvents::Id, AuditEvents::Ts, AuditEvents::Hash])
                    .from(AuditEvents::Table)
                    .order_by(AuditEvents::Id, Order::Asc)
                    .limit(PURGE_CHUNK)
                    .to_owned(),
            )
            .await?;
        let full = u64::try_from(first.len()).is_ok_and(|n| n == PURGE_CHUNK);
        // The last row to delete, and whether rows past this page may go too.
        let (through, more) = match first.iter().position(|r| r.ts >= before) {
            Some(0) => break,
            Some(kept) => (&first[kept - 1], false),
            None => match first.last() {
                Some(row) => (row, full),
                None => break,
            },
        };
        let mut tx = store.begin().await?;
        purged += tx
            .execute(
                &Query::delete()
                    .from_table(AuditEvents::Table)
                    .and_where(Expr::col(AuditEvents::Id).lte(through.id))
                    .to_owned(),
            )
            .await?;
        // Where the chain now starts, for `verify`.
        tx.execute(
            &Query::update()
                .table(AuditHead::Table)
                .value(AuditHead::PurgedId, through.id)
                .value(AuditHead::PurgedHash, through.hash.as_str())
                .value(
                    AuditHead::PurgedMac,
                    key.purge_mac(through.id, &through.hash),
                )
                .and_where(Expr::col(AuditHead::Id).eq(1))
                .to_owned(),
        )
        .await?;
        tx.commit().await?;
        if !more {
            break;
        }
    }
    Ok(purged)
}

/// The last row, when it carries the plain SHA-256 of a release before the chain was keyed:
/// the server names it when it starts, once, as the row `verify --unkeyed-through` takes.
pub async fn unkeyed_end(store: &Store, key: &ChainKey) -> Result<Option<i64>, SystemError> {
    let last: Option<AuditRecord> = store
        .one(
            &select(Condition::all())
                .order_by(AuditEvents::Id, Order::Desc)
                .limit(1)
                .to_owned(),
        )
        .await?;
    let mut scratch = Vec::new();
    Ok(last
        .filter(|r| {
            r.digest(key, &mut scratch) != r.hash && r.unkeyed_digest(&mut scratch) == r.hash
        })
        .map(|r| r.id))
}

/// The last row purged, when its record is not signed (a purge by a release before purges
/// were): the server names it when it starts, as a row `verify --unkeyed-through` must cover
/// until the next purge signs a record of its own.
pub async fn unsigned_purge(store: &Store) -> Result<Option<i64>, SystemError> {
    let head: Option<Ends> = store.one(&head_ends()).await?;
    Ok(head
        .filter(|h| h.purged_id > 0 && h.purged_mac.is_empty())
        .map(|h| h.purged_id))
}

fn head_ends() -> SelectStatement {
    Query::select()
        .columns([
            AuditHead::LastId,
            AuditHead::Hash,
            AuditHead::PurgedId,
            AuditHead::PurgedHash,
            AuditHead::PurgedMac,
        ])
        .from(AuditHead::Table)
        .and_where(Expr::col(AuditHead::Id).eq(1))
        .to_owned()
}

/// What `verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every row checked and the head matches the last one: how many rows, and how many of
    /// them were written before the chain was keyed (allowed by `unkeyed_through`).
    Intact { checked: u64, unkeyed: u64 },
    /// The first broken link: the row's id and what is wrong with it.
    Broken { id: i64, reason: String },
}

/// Walks the chain from the oldest row to the last one written when the walk began (the
/// head): each row's hash must be its content's under `key` and name the previous row's
/// hash, ids must follow each other, the head must match the last row, and no row may lie
/// past the head. Rows up to `unkeyed_through` may instead carry the plain SHA-256 that
/// releases before the keyed chain wrote (as long as no keyed row precedes them): a store
/// kept from then names the last row it had when it was upgraded.
pub async fn verify(
    store: &Store,
    key: &ChainKey,
    unkeyed_through: i64,
) -> Result<Verdict, SystemError> {
    const CHUNK: u64 = 1000;
    // One view of the store throughout: rows a running server appends meanwhile, or a purge
    // deletes, are left for the next check.
    let mut tx = store.snapshot().await?;
    let head: Option<Ends> = tx.one(&head_ends()).await?;
    // Where the chain starts: after the last purge, whose record must be signed (or, written
    // before purges were, lie within what the operator vouches for), else anyone able to
    // write to the store could delete the oldest events and move the record on.
    if let Some(h) = head.as_ref().filter(|h| h.purged_id > 0)
        && h.purged_mac != key.purge_mac(h.purged_id, &h.purged_hash)
        && !(h.purged_mac.is_empty() && h.purged_id <= unkeyed_through)
    {
        let reason = if h.purged_mac.is_empty() {
            format!(
                "the record of the last purge (through row {}) is not signed: it was written \
                 by someone without the master key, or by a purge before purges were signed \
                 (verify with --unkeyed-through set to the row the server named when it started)",
                h.purged_id
            )
        } else {
            format!(
                "the record of the last purge (through row {}) does not match its signature: \
                 the oldest rows were deleted behind Rampart's back",
                h.purged_id
            )
        };
        return Ok(Verdict::Broken {
            id: h.purged_id + 1,
            reason,
        });
    }
    let through = head.as_ref().map_or(i64::MAX, |h| h.last_id);
    let mut checked = 0_u64;
    let mut unkeyed = 0_u64;
    let mut previous: Option<AuditRecord> = None;
    let mut scratch = Vec::with_capacity(1024);
    loop {
        let after = previous.as_ref().map_or(i64::MIN, |p| p.id);
        let rows: Vec<AuditRecord> = tx
            .all(
                &select(
                    Condition::all()
                        .add(Expr::col(AuditEvents::Id).gt(after))
                        .add(Expr::col(AuditEvents::Id).lte(through)),
                )
                .order_by(AuditEvents::Id, Order::Asc)
                .limit(CHUNK)
                .to_owned(),
            )
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            // The first row left must follow the last one purged.
            if let (None, Some(h)) = (&previous, &head) {
                if row.id != h.purged_id + 1 {
                    return Ok(Verdict::Broken {
                        id: row.id,
                        reason: format!(
                            "rows {} to {} are missing (no purge removed them)",
                            h.purged_id + 1,
                            row.id - 1
                        ),
                    });
                }
                if row.prev_hash != h.purged_hash {
                    return Ok(Verdict::Broken {
                        id: row.id,
                        reason: "it does not follow the last row purged".into(),
                    });
                }
            }
            if let Some(p) = &previous {
                if row.id != p.id + 1 {
                    return Ok(Verdict::Broken {
                        id: row.id,
                        reason: format!("rows {} to {} are missing", p.id + 1, row.id - 1),
                    });
                }
                if row.prev_hash != p.hash {
                    return Ok(Verdict::Broken {
                        id: row.id,
                        reason: format!("it does not follow row {}", p.id),
                    });
                }
            }
            if row.digest(key, &mut scratch) != row.hash {
                let plain = row.unkeyed_digest(&mut scratch) == row.hash;
                let reason = if !plain && checked == 0 {
                    "its content does not match its hash: it was edited, or the master key is \
                     not the one the server writes with"
                        .to_owned()
                } else if !plain {
                    "its content does not match its hash (it was edited)".to_owned()
                } else if row.id > unkeyed_through {
                    "its hash is not keyed: it was rewritten by someone without the master key, \
                     or written before the chain was keyed (a store kept from then: verify with \
                     --unkeyed-through set to the row the server named when it first started \
                     keyed, and never to a later one)"
                        .to_owned()
                } else if checked > unkeyed {
                    "its hash is not keyed, yet keyed rows precede it: it was rewritten".to_owned()
                } else {
                    unkeyed += 1;
                    checked += 1;
                    previous = Some(row);
                    continue;
                };
                return Ok(Verdict::Broken { id: row.id, reason });
            }
            checked += 1;
            previous = Some(row);
        }
    }
    if let (Some(h), None) = (&head, &previous)
        && h.last_id != h.purged_id
    {
        return Ok(Verdict::Broken {
            id: h.last_id,
            reason: format!(
                "rows {} to {} were written and no purge removed them",
                h.purged_id + 1,
                h.last_id
            ),
        });
    }
    if let (Some(head), Some(last)) = (head, previous)
        && (head.last_id != last.id || head.hash != last.hash)
    {
        return Ok(Verdict::Broken {
            id: head.last_id,
            reason: format!(
                "the chain ends at row {} but was last written at row {}: rows were removed from its end",
                last.id, head.last_id
            ),
        });
    }
    // A row past the head, in the same view as the head: no append of Rampart's
    // wrote it (an append moves the head in the same transaction as its rows).
    let last_written = Query::select()
        .column(AuditHead::LastId)
        .from(AuditHead::Table)
        .and_where(Expr::col(AuditHead::Id).eq(1))
        .to_owned();
    let beyond: Option<RowId> = tx
        .one(
            &Query::select()
                .column(AuditEvents::Id)
                .from(AuditEvents::Table)
                .and_where(
                    Expr::col(AuditEvents::Id)
                        .gt(Expr::SubQuery(None, Box::new(last_written.into()))),
                )
                .order_by(AuditEvents::Id, Order::Asc)
                .limit(1)
                .to_owned(),
        )
        .await?;
    if let Some(row) = beyond {
        return Ok(Verdict::Broken {
            id: row.id,
            reason: "it lies past the last row written: it was not appended by Rampart".into(),
        });
    }
    Ok(Verdict::Intact { checked, unkeyed })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::AuditRecord;

    /// Text with what JSON escapes (quotes, backslashes, control characters) and what it
    /// does not (DEL, non-ASCII).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9_/=-]{0,12}",
            "[\"\\\\\u{0}-\u{1f}\u{7f}é€😀 a]{0,8}",
            ".{0,16}",
            // Around the inline limits (62, 126): kept inline, or on the heap.
            "[a-z\"é]{55,70}",
            "[a-z\"é]{120,130}",
        ]
    }

    fn record() -> impl Strategy<Value = AuditRecord> {
        let ids = (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>());
        let maybe = (
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
        );
        let texts = (text(), text(), text(), text(), text(), text(), text());
        let maybe_texts = (
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
        );
        (ids, maybe, texts, maybe_texts, text(), text()).prop_map(
            |(
                (id, ts, status, latency_us),
                (user_id, app_id, role_id, rows_count),
                (request_id, kind, transport, principal, client, method, params),
                (tool, email, provider, service, resource, error_code, changes, response),
                prev_hash,
                hash,
            )| AuditRecord {
                id,
                ts,
                request_id: request_id.into(),
                kind: kind.into(),
                transport: transport.into(),
                tool: tool.map(Into::into),
                principal: principal.into(),
                user_id,
                email: email.map(Into::into),
                provider: provider.map(Into::into),
                app_id,
                role_id,
                client: client.into(),
                method: method.into(),
                service: service.map(Into::into),
                resource: resource.map(Into::into),
                params: params.into(),
                status,
                error_code: error_code.map(Into::into),
                rows_count,
                latency_us,
                changes,
                prev_hash,
                hash,
                response,
            },
        )
    }

    proptest! {
        #[test]
        fn the_hashed_text_is_what_serde_writes_with_the_hash_empty(r in record()) {
            let mut ours = Vec::new();
            r.write_hashed(&mut ours);
            let serde = serde_json::to_vec(&AuditRecord { hash: String::new(), ..r.clone() }).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(serde).unwrap());
        }
    }

    #[test]
    fn escapes_are_found_at_every_place_in_a_word() {
        // Around each byte: ordinary text, the lowest byte not escaped, and non-ASCII.
        for fill in [b'a', b' ', 0xff] {
            for len in 1..20 {
                for at in 0..len {
                    for special in [b'"', b'\\', 0x00, 0x0a, 0x1f] {
                        let mut text = vec![fill; len];
                        text[at] = special;
                        assert!(super::needs_escape(&text), "{text:?}");
                    }
                    for plain in [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff] {
                        let mut text = vec![fill; len];
                        text[at] = plain;
                        assert!(!super::needs_escape(&text), "{text:?}");
                    }
                }
            }
        }
        assert!(!super::needs_escape(b""));
    }

    #[test]
    fn short_text_keeps_any_text_whole_inline_up_to_its_limit_and_on_the_heap_beyond() {
        use super::{Params, Repr, ShortText};
        fn check<const N: usize>() {
            // Two-byte characters put the limit inside a character or right after one.
            for len in 0..N + 20 {
                for text in ["a".repeat(len), "é".repeat(len / 2) + &"a".repeat(len % 2)] {
                    let short = ShortText::<N>::from(text.as_str());
                    assert_eq!(short.as_str(), text);
                    assert_eq!(ShortText::<N>::from(text.clone()), short);
                    assert_eq!(
                        matches!(short.0, Repr::Inline { .. }),
                        text.len() <= N,
                        "{len}"
                    );
                    assert_eq!(
                        serde_json::to_string(&short).unwrap(),
                        serde_json::to_string(&text).unwrap()
                    );
                }
            }
        }
        check::<{ <ShortText>::INLINE }>();
        check::<{ Params::INLINE }>();
        for text in ["", "127.0.0.1", "0b7c1f0e-5b1e-4c3a-9d7a-000000000007"] {
            assert_eq!(<ShortText>::from(text), text);
        }
    }

    #[test]
    fn a_stored_row_keeps_its_hash() {
        // A row as earlier releases hashed it (through serde): its hash must still hold.
        let r = AuditRecord {
            id: 7,
            ts: 1_764_860_000_000_000,
            request_id: "0b7c1f0e-5b1e-4c3a-9d7a-000000000007".into(),
            kind: "request".into(),
            transport: "rest".into(),
            principal: "app".into(),
            app_id: Some(1),
            role_id: Some(2),
            client: "127.0.0.1".into(),
            method: "GET".into(),
            service: Some("db".into()),
            resource: Some("_table/orders/5".into()),
            params: r#"{"filter":"name = \"x\""}"#.into(),
            status: 200,
            rows_count: Some(1),
            latency_us: 900,
            prev_hash: "ab".repeat(32),
            ..AuditRecord::default()
        };
        let mut scratch = Vec::new();
        assert_eq!(
            r.unkeyed_digest(&mut scratch),
            "a4ba7545c65c2a137cf1601e952b04145787bf29c54466d5248b9b31c5cfd050"
        );
        assert_eq!(scratch, serde_json::to_vec(&r).unwrap());
        // Keyed, under a master key of 32 zero bytes: HMAC-SHA256 of the same text under
        // HMAC-SHA256("rampart audit chain v1") under that key (checked with Python's hmac).
        let master = crate::system::crypto::MasterKey::from_base64(&format!("{}=", "A".repeat(43)));
        let key = super::ChainKey::new(&master.unwrap());
        assert_eq!(
            r.digest(&key, &mut scratch),
            "802fe586e8bdd1bd3b433e76fb7e491531eaa9d67faa480a049fedf785d67784"
        );
    }
}
