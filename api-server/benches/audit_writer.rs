//! The audit writer's cost per event, apart from any HTTP load: events shaped like a GET by
//! id are hashed and stored in batches into a new SQLite system store (the embedded default)
//! as the writer's thread stores them (its own connection, `OwnAppender`), and the CPU time of
//! the whole process is divided by the number of events. `--pool` stores them through the
//! store's pool instead (`audit::append`, the path of a PostgreSQL store). Steadier than the HTTP bench for the writer's share; see bench/README.md.
//!
//! `cargo bench -p rampart-server --bench audit_writer [-- EVENTS]`

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first surprise"
)]

use std::time::Instant;

use rampart_server::statement::OwnSqlite;
use rampart_server::system::Store;
use rampart_server::system::audit::{self, AuditRecord};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of every thread of this process so far, in nanoseconds (Linux).
fn cpu_ns() -> u64 {
    let mut total = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn event(i: usize) -> Box<AuditRecord> {
    Box::new(AuditRecord {
        ts: 1_764_860_000_000_000 + i64::try_from(i).unwrap_or(0) * 50,
        request_id: uuid::Uuid::new_v4().to_string().into(),
        kind: "request".into(),
        transport: "rest".into(),
        principal: "app".into(),
        app_id: Some(1),
        role_id: Some(1),
        client: "127.0.0.1".into(),
        method: "GET".into(),
        service: Some("db".into()),
        resource: Some(format!("_table/orders/{}", i % 10_000 + 1).into()),
        params: "{}".into(),
        status: 200,
        rows_count: Some(1),
        latency_us: 900,
        ..AuditRecord::default()
    })
}

fn main() {
    const BATCH: usize = 1000;
    let events: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let through_pool = std::env::args().any(|a| a == "--pool");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let store = Store::connect(&url).await.expect("the store");
        store.migrate().await.expect("migrations");
        let path = store.sqlite_file().expect("a store file");
        let conn = OwnSqlite::open(&path).expect("the writer's connection");
        let key = audit::ChainKey::new(&rampart_server::system::crypto::MasterKey::generate());
        let mut own = audit::OwnAppender::new(&conn, key.clone()).expect("the statements");
        // Warm up: the statements are prepared, the table has pages.
        let mut warm: Vec<_> = (0..BATCH).map(event).collect();
        audit::append(&store, &key, &mut warm)
            .await
            .expect("append");
        let mut warm: Vec<_> = (0..BATCH).map(event).collect();
        own.append(&mut warm).expect("append");

        let mut batches: Vec<Vec<Box<AuditRecord>>> = (0..events / BATCH)
            .map(|b| (0..BATCH).map(|i| event(b * BATCH + i)).collect())
            .collect();
        let mut scratch = Vec::new();
        let (cpu, wall) = (cpu_ns(), Instant::now());
        for batch in &batches {
            for e in batch {
                std::hint::black_box(e.digest(&key, &mut scratch));
            }
        }
        let hashing = (cpu_ns() - cpu) as f64 / (events as f64);
        let (cpu, wall2) = (cpu_ns(), Instant::now());
        for batch in &mut batches {
            if through_pool {
                audit::append(&store, &key, batch).await.expect("append");
            } else {
                own.append(batch).expect("append");
            }
        }
        let append = (cpu_ns() - cpu) as f64 / (events as f64);
        println!(
            "audit writer ({}), {events} events in batches of {BATCH}: {:.2} µs CPU per event \
             stored (of which hashing {:.2} µs); {:.0} events/s; hashing alone took {:.2} s",
            if through_pool {
                "the store's pool"
            } else {
                "its own connection"
            },
            append / 1000.0,
            hashing / 1000.0,
            events as f64 / wall2.elapsed().as_secs_f64(),
            (wall2 - wall).as_secs_f64(),
        );
        match audit::verify(&store, &key, 0).await.expect("verify") {
            audit::Verdict::Intact {
                checked,
                unkeyed: 0,
            } => {
                assert_eq!(checked as usize, events + 2 * BATCH);
            }
            broken => panic!("the chain broke: {broken:?}"),
        }
    });
}
