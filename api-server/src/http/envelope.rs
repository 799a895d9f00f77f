//! Results → DreamFactory's wire shapes: lists wrapped in `resource` with `meta` (`count`,
//! `next`, and Rampart's `next_cursor`), single records bare, batch errors with their
//! per-record context.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;
use rampart_schema::Table;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::query::ReadPlan;
use crate::query::exec::{ExecError, ReadResult, Records, Streamed, WriteOutcome};
use crate::query::write::{BatchMode, WriteKind};
use crate::request::ReadParams;

/// A response whose body is already JSON text.
#[must_use]
pub fn raw_json(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

/// `{"resource":[…],"meta":{…}}`. Records are spliced in as the JSON PostgreSQL built.
#[must_use]
pub fn list(
    result: ReadResult,
    plan: &ReadPlan,
    count: Option<i64>,
    schema: Option<Value>,
    as_list: bool,
) -> HttpResponse {
    let mut body = String::with_capacity(64 + result.records.joined().len());
    body.push_str("{\"resource\":[");
    if as_list {
        for (i, record) in result.records.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&id_of(record));
        }
    } else {
        body.push_str(result.records.joined());
    }
    let shape = ListShape {
        next_offset: plan.offset + plan.limit,
        count,
        schema,
        as_list,
    };
    body.push_str(&shape.closing(result.has_more, result.next_cursor));
    raw_json(body)
}

/// How a list's records and its closing `meta` are written, buffered or streamed alike.
struct ListShape {
    next_offset: u64,
    count: Option<i64>,
    schema: Option<Value>,
    as_list: bool,
}

impl ListShape {
    /// The end of the list: `]`, the `meta` object when there is anything to say, `}`.
    fn closing(&self, has_more: bool, next_cursor: Option<String>) -> String {
        let mut meta = serde_json::Map::new();
        if let Some(n) = self.count {
            meta.insert("count".into(), json!(n));
        }
        if has_more {
            meta.insert("next".into(), json!(self.next_offset));
            if let Some(cursor) = next_cursor {
                meta.insert("next_cursor".into(), json!(cursor));
            }
        }
        if let Some(schema) = &self.schema {
            meta.insert("schema".into(), schema.clone());
        }
        if meta.is_empty() {
            "]}".to_owned()
        } else {
            format!("],\"meta\":{}}}", Value::Object(meta))
        }
    }

    fn piece(&self, item: Streamed, first: bool) -> String {
        match item {
            Streamed::Record(record) => {
                let body = if self.as_list { id_of(&record) } else { record };
                if first { body } else { format!(",{body}") }
            }
            Streamed::End {
                has_more,
                next_cursor,
            } => self.closing(has_more, next_cursor),
        }
    }
}

/// A streamed list, in the same shape as `list`: the first piece was received before the
/// answer started (so a failing query is still an ordinary error answer), the rest follows as
/// PostgreSQL produces it. A failure after that can only cut the answer short; it is logged.
pub fn list_stream(
    first: Streamed,
    rest: tokio::sync::mpsc::Receiver<Result<Streamed, ExecError>>,
    next_offset: u64,
    count: Option<i64>,
    schema: Option<Value>,
    as_list: bool,
    rows: Option<std::sync::Arc<crate::audit::Note>>,
) -> HttpResponse {
    use actix_web::web::Bytes;
    use futures_util::StreamExt;
    use futures_util::stream;
    let shape = std::sync::Arc::new(ListShape {
        next_offset,
        count,
        schema,
        as_list,
    });
    let done = matches!(first, Streamed::End { .. });
    let count_row = move |item: &Streamed| {
        if let (Streamed::Record(_), Some(note)) = (item, &rows) {
            note.add_rows(1);
        }
    };
    count_row(&first);
    let head = format!("{{\"resource\":[{}", shape.piece(first, true));
    let rest = (!done).then_some(rest);
    let tail = stream::unfold((rest, shape), move |(rx, shape)| {
        let count_row = count_row.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(Ok(item)) => {
                    count_row(&item);
                    let end = matches!(item, Streamed::End { .. });
                    let bytes = Bytes::from(shape.piece(item, false));
                    Some((Ok(bytes), ((!end).then_some(rx), shape)))
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a streamed read failed after it started; the answer is cut short");
                    Some((Err(std::io::Error::other("read failed")), (None, shape)))
                }
                None => None,
            }
        }
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) }).chain(tail);
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .streaming(body)
}

/// DreamFactory's `as_list` form of a record: its id as a string, `(a,b)` for composite keys.
fn id_of(record: &str) -> String {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(record) else {
        return "null".into();
    };
    let parts: Vec<String> = map
        .values()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let id = if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(","))
    };
    Value::String(id).to_string()
}

/// DreamFactory's batch error for `ids` reads that did not find every record.
#[must_use]
pub fn missing_ids_error(
    ids: &[String],
    records: &Records,
    table: &Table,
    params: &ReadParams,
) -> ApiError {
    let key = params
        .id_field
        .as_ref()
        .and_then(|f| f.first().cloned())
        .or_else(|| table.primary_key.first().cloned())
        .unwrap_or_default();
    let found: Vec<Value> = records
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect();
    let mut errors = Vec::new();
    let resource: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let hit = found.iter().find(|r| match r.get(&key) {
                Some(Value::String(s)) => s == id,
                Some(other) => &other.to_string() == id,
                None => false,
            });
            match hit {
                Some(r) => r.clone(),
                None => {
                    errors.push(i);
                    let message = format!("Record with identifier '{id}' not found.");
                    json!({"code": 404, "context": null, "message": message, "status_code": 404})
                }
            }
        })
        .collect();
    let mut e = ApiError::bad_request("Batch Error: Not all requested records could be retrieved.");
    e.code = Some(1000);
    e.context = json!({"error": errors, "resource": resource});
    e
}

/// `{"resource":[…]}` of records already in JSON.
#[must_use]
pub fn records(records: &[String]) -> HttpResponse {
    let mut body = String::from("{\"resource\":[");
    body.push_str(&records.join(","));
    body.push_str("]}");
    raw_json(body)
}

/// A batch's answer: every record's result, or DreamFactory's batch error naming the failed
/// indexes, with the written records and the error objects in `context.resource`.
pub fn batch(
    outcome: WriteOutcome,
    kind: WriteKind,
    mode: BatchMode,
) -> Result<HttpResponse, ApiError> {
    let failed: Vec<usize> = outcome
        .results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    if failed.is_empty() {
        let all: Vec<String> = outcome
            .results
            .into_iter()
            .flat_map(|r| r.unwrap_or_default())
            .collect();
        return Ok(records(&all));
    }
    let resource: Vec<Value> = outcome
        .results
        .into_iter()
        .map(|r| match r {
            Ok(recs) => recs
                .first()
                .and_then(|x| serde_json::from_str(x).ok())
                .unwrap_or(Value::Null),
            Err(e) => ApiError::from(e).body()["error"].clone(),
        })
        .collect();
    let verb = match kind {
        WriteKind::Create => "created",
        WriteKind::Update => "updated",
        WriteKind::Delete => "deleted",
    };
    let mut message = format!("Batch Error: Not all requested records could be {verb}.");
    if mode == BatchMode::Rollback && !outcome.committed {
        message.push_str(" All changes rolled back.");
    }
    let mut e = ApiError::bad_request(message);
    e.code = Some(1000);
    e.context = json!({"error": failed, "resource": resource});
    Err(e)
}
