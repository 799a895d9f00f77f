//! Benchmark: introspects a throwaway database of 5,000 tables (about 8 columns each, foreign
//! keys between many of them, some junction tables, views and functions).
//!
//! Creates `rampart_introspect_bench` (dropping any leftover first), times `introspect` five
//! times on the catalogs as the DDL left them and five times after `ANALYZE`, prints each
//! run with min and median, and always drops the database again. Connects as the
//! `RAMPART_TEST_PG_URL` login (default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! `cargo run --release -p rampart-schema --example introspect_5000`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use rampart_schema::{IntrospectOptions, introspect};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const DATABASE: &str = "rampart_introspect_bench";
const TABLES: i32 = 5_000;
const BATCH: i32 = 250;
const RUNS: usize = 5;

/// An enum, another schema, a few functions, and `make_tables(lo, hi)`, which creates tables
/// `t{lo}..=t{hi}`: `t{i}` references `t{i-1}` when `i` is even, every tenth table also
/// references `t{i-2}` (making it a junction), every fiftieth gets a view.
const SETUP_SQL: &[&str] = &[
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE SCHEMA other",
    "CREATE TABLE other.lookup (id int PRIMARY KEY, label text)",
    "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x + 1'",
    "CREATE FUNCTION other.hello(who text DEFAULT 'world') RETURNS text LANGUAGE sql AS 'SELECT who'",
    r"CREATE FUNCTION make_tables(lo int, hi int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN lo..hi LOOP
    EXECUTE format(
      'CREATE TABLE t%s (
         id bigserial PRIMARY KEY,
         name text NOT NULL,
         email varchar(200) UNIQUE,
         amount numeric(12,2),
         created_at timestamptz NOT NULL DEFAULT now(),
         tags text[],
         mood mood,
         data jsonb,
         parent_id bigint%s%s)',
      i,
      CASE WHEN i % 2 = 0 THEN format(' REFERENCES t%s (id) ON DELETE CASCADE', i - 1) ELSE '' END,
      CASE WHEN i % 10 = 0 THEN format(', other_id bigint REFERENCES t%s (id)', i - 2) ELSE '' END);
    EXECUTE format('COMMENT ON TABLE t%s IS %L', i, 'bench table ' || i);
    IF i % 50 = 0 THEN
      EXECUTE format('CREATE VIEW v%s AS SELECT id, name, amount FROM t%s', i, i);
    END IF;
  END LOOP;
END $$",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("RAMPART_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin_options: PgConnectOptions = url.parse()?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin_options.clone())
        .await?;
    sqlx::query("DROP DATABASE IF EXISTS rampart_introspect_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE rampart_introspect_bench")
        .execute(&admin)
        .await?;

    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(admin_options.database(DATABASE))
        .await;
    let outcome = match pool {
        Ok(pool) => {
            let outcome = run(&pool).await;
            pool.close().await;
            outcome
        }
        Err(error) => Err(error.into()),
    };

    sqlx::query("DROP DATABASE IF EXISTS rampart_introspect_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    admin.close().await;
    outcome
}

async fn run(pool: &PgPool) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    for statement in SETUP_SQL {
        sqlx::query(*statement).execute(pool).await?;
    }
    let mut lo = 1;
    while lo <= TABLES {
        let hi = (lo + BATCH - 1).min(TABLES);
        sqlx::query("SELECT make_tables($1, $2)")
            .bind(lo)
            .bind(hi)
            .execute(pool)
            .await?;
        lo = hi + 1;
    }
    println!(
        "created {TABLES} tables in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let options = IntrospectOptions::default();
    report(
        "catalog statistics as left by the DDL",
        &time_runs(pool, &options).await?,
    );
    sqlx::query("ANALYZE").execute(pool).await?;
    report("after ANALYZE", &time_runs(pool, &options).await?);
    Ok(())
}

async fn time_runs(
    pool: &PgPool,
    options: &IntrospectOptions,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let mut timings = Vec::with_capacity(RUNS);
    for run in 1..=RUNS {
        let started = Instant::now();
        let model = introspect(&mut *pool.acquire().await?, options).await?;
        let elapsed = started.elapsed();
        timings.push(elapsed);
        let relations: usize = model.tables.iter().map(|t| t.relations.len()).sum();
        let columns: usize = model.tables.iter().map(|t| t.columns.len()).sum();
        println!(
            "  run {run}: {:>7.1} ms  ({} tables/views, {columns} columns, {relations} relations, {} functions)",
            elapsed.as_secs_f64() * 1e3,
            model.tables.len(),
            model.functions.len(),
        );
    }
    Ok(timings)
}

fn report(label: &str, timings: &[Duration]) {
    let mut sorted = timings.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "introspect ({label}): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(sorted[0]),
        ms(sorted[sorted.len() / 2]),
        ms(sorted[sorted.len() - 1]),
    );
}
