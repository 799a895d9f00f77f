//! Values bound in their own type (`statement::numeric`, `statement::inferred`, and the
//! integers, floats, booleans and UUIDs `query::sql` reads itself) against a real PostgreSQL:
//! whichever way a value travels (sqlx's binary parameters, a pipe's text ones), PostgreSQL
//! ends up with exactly the value its own parser makes of the text, and rejects what it
//! rejects with the same error.

use std::time::Duration;

use rampart_server::services::pipe::{Answer, Pipe, Target};
use rampart_server::statement::{self, Statement};
use rampart_tests::TestDb;

use crate::fixture::Shop;
use sea_query::{Alias, Expr, Func, Query, SelectStatement};
use sqlx::Row;
use sqlx::postgres::PgConnectOptions;

/// `SELECT CAST(value AS text), CAST(CAST(text AS type) AS text)`: the value as bound, and
/// the text as PostgreSQL's parser reads it.
fn both(value: sea_query::Value, text: &str, ty: &str, cast: bool) -> SelectStatement {
    let bound: Expr = if cast {
        Func::cast_as(Expr::val(value), Alias::new(ty)).into()
    } else {
        Expr::val(value)
    };
    let parsed: Expr = Func::cast_as(Expr::val(text), Alias::new(ty)).into();
    let mut q = Query::select();
    q.expr(Func::cast_as(bound, Alias::new("text")))
        .expr(Func::cast_as(parsed, Alias::new("text")));
    q
}

const DECIMALS: &[&str] = &[
    "0",
    "-0",
    "+7",
    "500",
    "500.00",
    ".5",
    "5.",
    "-.0001",
    "0.00001",
    "00012345.678900",
    "-99999999999999999999999999999999.000000000000000000001",
    "10000",
    "100000000",
    "0.000000000000000000000000000000000000001",
    "1234567890123456789012345678901234567890",
];

#[tokio::test]
async fn plain_decimals_sent_in_binary_are_the_numbers_postgresql_reads_from_their_text() {
    let db = TestDb::empty().await;
    let mut conn = db.connect().await;
    let options: PgConnectOptions = db.url().parse().expect("url");
    let target = Target::new(&options, None, None, Duration::from_secs(5)).expect("target");
    let pipe = Pipe::connect(&target).await.expect("pipe");
    for text in DECIMALS {
        let value = statement::numeric(text).unwrap_or_else(|| panic!("{text} is plain"));
        let q = both(value, text, "numeric", false);
        let row = Statement::postgres(&q)
            .pg()
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let (bound, parsed): (String, String) = (row.get(0), row.get(1));
        assert_eq!(bound, parsed, "{text} over sqlx");
        let piped = Statement::postgres(&q).into_pipelined().expect("pipeable");
        let Answer::Rows(rows) = pipe
            .query(&piped)
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"))
        else {
            panic!("{text}: refused as too slow");
        };
        let (bound, parsed): (String, String) = (rows[0].get(0), rows[0].get(1));
        assert_eq!(bound, parsed, "{text} over a pipe");
    }
    for text in [
        "1e3", "NaN", "Infinity", " 1", "1 ", "", "-", ".", "1.2.3", "٣",
    ] {
        assert!(
            statement::numeric(text).is_none(),
            "{text:?} is left to PostgreSQL"
        );
    }
}

#[tokio::test]
async fn an_enum_label_is_read_once_in_the_type_of_its_cast_and_a_wrong_one_is_refused() {
    let db = TestDb::empty().await;
    let mut conn = db.connect().await;
    sqlx::query("CREATE TYPE mood AS ENUM ('calm', 'wild')")
        .execute(&mut conn)
        .await
        .expect("type");
    let options: PgConnectOptions = db.url().parse().expect("url");
    let target = Target::new(&options, None, None, Duration::from_secs(5)).expect("target");
    let pipe = Pipe::connect(&target).await.expect("pipe");
    for round in 0..2 {
        let q = both(statement::inferred("wild".into()), "wild", "mood", true);
        let row = Statement::postgres(&q)
            .pg()
            .fetch_one(&mut conn)
            .await
            .expect("sqlx");
        assert_eq!(row.get::<String, _>(0), "wild", "round {round}");
        let piped = Statement::postgres(&q).into_pipelined().expect("pipeable");
        let Answer::Rows(rows) = pipe.query(&piped).await.expect("pipe") else {
            panic!("a quick statement was refused as too slow");
        };
        assert_eq!(rows[0].get::<_, String>(0), "wild");

        // The same statement with a label the type lacks: the error of the cast.
        let q = both(statement::inferred("sad".into()), "calm", "mood", true);
        let e = Statement::postgres(&q)
            .pg()
            .fetch_one(&mut conn)
            .await
            .unwrap_err();
        let code = e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()));
        assert_eq!(code.as_deref(), Some("22P02"), "{e}");
        let piped = Statement::postgres(&q).into_pipelined().expect("pipeable");
        let e = pipe.query(&piped).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("22P02"), "{e}");
    }
}

#[tokio::test]
async fn filters_find_the_rows_postgresql_finds_for_the_same_text_whichever_way_it_is_bound() {
    let shop = Shop::new().await;
    let mut conn = shop.db.connect().await;
    sqlx::query("UPDATE orders SET placed_at = placed_at + id * interval '7 hours'")
        .execute(&mut conn)
        .await
        .expect("spread the orders in time");
    let c = shop.client_with("all", &[("*", 31)]).await;
    // Each filter, and the condition PostgreSQL evaluates on the same text, cast by itself.
    let cases = [
        ("total > 100", "total > CAST('100' AS numeric)"),
        ("total >= 150.00", "total >= CAST('150.00' AS numeric)"),
        ("total < -0.5", "total < CAST('-0.5' AS numeric)"),
        ("total <= 1e2", "total <= CAST('1e2' AS numeric)"),
        ("total = 99.990", "total = CAST('99.990' AS numeric)"),
        (
            "status = 'shipped'",
            "status = CAST('shipped' AS order_status)",
        ),
        (
            "status != 'pending'",
            "status <> CAST('pending' AS order_status)",
        ),
        (
            "status in ('pending','cancelled')",
            "status IN ('pending', 'cancelled')",
        ),
        ("id in (2, 5)", "id IN (2, 5)"),
        (
            "(status = 'shipped') AND (total > 100) AND (note IS NULL OR total < 200.5)",
            "status = 'shipped' AND total > 100 AND (note IS NULL OR total < 200.5)",
        ),
        ("id > 99999999999", "id > 99999999999"),
        (
            "placed_at >= '2026-02-01T21:00:00Z'",
            "placed_at >= CAST('2026-02-01T21:00:00Z' AS timestamptz)",
        ),
        (
            "placed_at < '2026-02-02 04:00:00+05:00'",
            "placed_at < CAST('2026-02-02 04:00:00+05:00' AS timestamptz)",
        ),
        (
            "placed_at > '2026-02-02'",
            "placed_at > CAST('2026-02-02' AS timestamptz)",
        ),
        (
            "placed_at < '2026-02-02T12:00:00+15:59'",
            "placed_at < CAST('2026-02-02T12:00:00+15:59' AS timestamptz)",
        ),
        (
            "placed_at > '2026-02-01 14:00:00.000001Z'",
            "placed_at > CAST('2026-02-01 14:00:00.000001Z' AS timestamptz)",
        ),
    ];
    let mut proper = 0;
    for (filter, condition) in cases {
        let r = c
            .get_with(
                "/api/v2/db/_table/orders",
                &[("filter", filter), ("fields", "id"), ("order", "id")],
            )
            .await;
        assert_eq!(r.status, reqwest::StatusCode::OK, "{filter}: {}", r.text);
        let got: Vec<i64> = r.body["resource"]
            .as_array()
            .expect("resource")
            .iter()
            .map(|o| o["id"].as_i64().expect("id"))
            .collect();
        let sql = format!("SELECT id FROM orders WHERE {condition} ORDER BY id");
        let expected: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .expect("postgres");
        assert_eq!(got, expected, "{filter}");
        proper += usize::from(!expected.is_empty() && expected.len() < 6);
    }
    assert!(
        proper >= 10,
        "most filters keep some rows and drop others ({proper})"
    );

    // Text PostgreSQL refuses is refused as before: a 400.
    for filter in [
        "placed_at > '2026-02-30'",
        "placed_at > '2026-02-01T10:00:00+16:00'",
        "total > 1e400000",
    ] {
        let r = c
            .get_with("/api/v2/db/_table/orders", &[("filter", filter)])
            .await;
        assert_eq!(
            r.status,
            reqwest::StatusCode::BAD_REQUEST,
            "{filter}: {}",
            r.text
        );
    }
}
