//! The database services' connection pool (`services::pool`) against a real PostgreSQL: it
//! lends a connection handed back cleanly without checking it, and still never lends one
//! that is dirty, dead or abandoned; its pipelined connections (`services::pipe`) answer
//! each statement in flight with its own rows, within the pool's size.

use std::time::Duration;

use rampart_server::services::ConnPool;
use rampart_server::services::pipe::{Answer, Pipe, STATEMENTS, Target};
use rampart_server::services::pool::{CHECK_AFTER_IDLE, PoolError};
use rampart_server::statement::{Piped, Statement};
use rampart_tests::TestDb;
use sea_query::{Alias, Asterisk, Expr, Func, Query};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};

async fn pool(db: &TestDb, max: u32, timeout: Duration) -> ConnPool {
    let options: PgConnectOptions = db.url().parse().expect("url");
    ConnPool::connect(options, max, timeout, None, None)
        .await
        .expect("the pool connects")
}

async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("pid")
        .get(0)
}

/// The state of a backend as PostgreSQL reports it (`idle`, `idle in transaction`, …), or
/// `None` once it is gone.
async fn backend_state(admin: &mut PgConnection, pid: i32) -> Option<String> {
    sqlx::query("SELECT state FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_optional(admin)
        .await
        .expect("pg_stat_activity")
        .map(|r| r.get(0))
}

#[tokio::test]
async fn a_connection_handed_back_cleanly_is_lent_again() {
    let db = TestDb::empty().await;
    let pool = pool(&db, 4, Duration::from_secs(5)).await;
    assert_eq!(
        (pool.size(), pool.num_idle()),
        (1, 1),
        "connect proves the options once"
    );
    let mut a = pool.acquire().await.unwrap();
    let first = backend_pid(a.conn()).await;
    a.release(true).await;
    let mut b = pool.acquire().await.unwrap();
    assert_eq!(
        backend_pid(b.conn()).await,
        first,
        "the same backend serves again"
    );
    // A second lent at once is a new connection.
    let mut c = pool.acquire().await.unwrap();
    assert_ne!(backend_pid(c.conn()).await, first);
    assert_eq!((pool.size(), pool.num_idle()), (2, 0));
    b.release(true).await;
    c.release(true).await;
    assert_eq!((pool.size(), pool.num_idle()), (2, 2));
    pool.close();
    assert_eq!(pool.size(), 0);
}

#[tokio::test]
async fn a_transaction_abandoned_on_an_error_is_rolled_back_before_the_connection_rests() {
    let db = TestDb::empty().await;
    let mut admin = db.connect().await;
    sqlx::query("CREATE TABLE t (n int)")
        .execute(&mut admin)
        .await
        .unwrap();
    let pool = pool(&db, 1, Duration::from_secs(5)).await;
    let mut lent = pool.acquire().await.unwrap();
    let pid = backend_pid(lent.conn()).await;
    {
        let mut tx = lent.conn().begin().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        // Dropped without commit or rollback, as `?` does on an error.
    }
    lent.release(false).await;
    assert_eq!(
        backend_state(&mut admin, pid).await.as_deref(),
        Some("idle"),
        "the queued ROLLBACK was sent when the connection came back, not at its next use"
    );
    let count: i64 = sqlx::query("SELECT count(*) FROM t")
        .fetch_one(&mut admin)
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "nothing of the abandoned transaction stayed");
    let mut again = pool.acquire().await.unwrap();
    assert_eq!(
        backend_pid(again.conn()).await,
        pid,
        "a sound connection is kept"
    );
    again.release(true).await;
}

#[tokio::test]
async fn a_connection_never_handed_back_is_closed() {
    let db = TestDb::empty().await;
    let mut admin = db.connect().await;
    let pool = pool(&db, 2, Duration::from_secs(5)).await;
    let mut lent = pool.acquire().await.unwrap();
    let pid = backend_pid(lent.conn()).await;
    drop(lent);
    assert_eq!(pool.size(), 0, "the pool no longer counts it");
    // PostgreSQL notices the closed socket on its own schedule: wait for it, bounded.
    let mut gone = false;
    for _ in 0..100 {
        if backend_state(&mut admin, pid).await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the backend of the dropped connection ended");
    let mut next = pool.acquire().await.unwrap();
    assert_ne!(
        backend_pid(next.conn()).await,
        pid,
        "a new connection replaced it"
    );
    next.release(true).await;
}

#[tokio::test]
async fn a_connection_that_died_while_resting_is_replaced() {
    let db = TestDb::empty().await;
    let mut admin = db.connect().await;
    let pool = pool(&db, 1, Duration::from_secs(5)).await;
    let mut lent = pool.acquire().await.unwrap();
    let pid = backend_pid(lent.conn()).await;
    lent.release(true).await;
    let terminated: bool = sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap()
        .get(0);
    assert!(terminated);
    // Rested long enough to be checked before it is lent again.
    tokio::time::sleep(CHECK_AFTER_IDLE + Duration::from_millis(200)).await;
    let mut next = pool.acquire().await.expect("a live connection");
    let new_pid = backend_pid(next.conn()).await;
    assert_ne!(new_pid, pid);
    next.release(true).await;
    assert_eq!(pool.size(), 1, "the dead one is no longer counted");
}

#[tokio::test]
async fn a_busy_pool_makes_callers_wait_then_gives_up_and_a_closed_pool_refuses() {
    let db = TestDb::empty().await;
    let pool = pool(&db, 1, Duration::from_millis(300)).await;
    let held = pool.acquire().await.unwrap();
    assert!(matches!(
        pool.acquire().await.err(),
        Some(PoolError::TimedOut(_))
    ));
    // A caller waiting when the connection comes back gets it.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire().await.map(drop).is_ok() })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    held.release(true).await;
    assert!(waiter.await.unwrap(), "the waiter was served");
    pool.close();
    assert!(matches!(
        pool.acquire().await.err(),
        Some(PoolError::Closed)
    ));
}

/// A pool with pipelined connections to `db` (as a service's pool is made).
async fn piped_pool(db: &TestDb, max: u32) -> ConnPool {
    let options: PgConnectOptions = db.url().parse().expect("url");
    let target = Target::new(&options, None, None, Duration::from_secs(5)).expect("target");
    ConnPool::connect(options, max, Duration::from_millis(300), None, Some(target))
        .await
        .expect("the pool connects")
}

/// A statement for a pipe, as the server makes them: built by sea-query.
fn piped(q: &sea_query::SelectStatement) -> Piped {
    Statement::postgres(q)
        .into_pipelined()
        .expect("text values")
}

/// A statement's rows from a pipe, which must not refuse it as too slow.
async fn rows(pipe: &Pipe, statement: &Piped) -> Vec<tokio_postgres::Row> {
    match pipe.query(statement).await.expect("the statement runs") {
        Answer::Rows(rows) => rows,
        Answer::TooSlow => panic!("a quick statement was refused as too slow"),
    }
}

async fn pipe_pid(pipe: &Pipe) -> i32 {
    let q = Query::select()
        .expr(Func::cust(Alias::new("pg_backend_pid")))
        .to_owned();
    rows(pipe, &piped(&q)).await[0].get(0)
}

#[tokio::test]
async fn a_thread_keeps_its_pipe_and_pipes_count_in_the_pool_size() {
    let db = TestDb::empty().await;
    let pool = piped_pool(&db, 4).await;
    let pipe = pool.pipe().await.unwrap().expect("a pool of 4 pipelines");
    let again = pool.pipe().await.unwrap().expect("the same pipe");
    assert!(std::sync::Arc::ptr_eq(&pipe, &again), "one pipe per thread");
    assert_eq!(pool.num_pipes(), 1);
    assert_eq!(pipe_pid(&pipe).await, pipe_pid(&again).await);

    // The pipe holds one of the four permits: three connections can be lent, not four.
    let lent = [
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
    ];
    assert!(matches!(pool.acquire().await, Err(PoolError::TimedOut(_))));
    drop(lent);

    // Too small to spare a connection: no pipe, reads take a lent one.
    let single = piped_pool(&db, 1).await;
    assert!(single.pipe().await.unwrap().is_none());

    // Closed: no pipe either, and the open one is let go.
    pool.close();
    assert!(pool.pipe().await.unwrap().is_none());
    assert_eq!(pool.num_pipes(), 0);
}

#[tokio::test]
async fn many_statements_in_flight_on_one_pipe_each_get_their_own_answer() {
    let db = TestDb::empty().await;
    let pool = piped_pool(&db, 4).await;
    let pipe = pool.pipe().await.unwrap().unwrap();
    let answers = futures_util::future::join_all((0..200).map(|i| {
        let pipe = &pipe;
        async move {
            let q = Query::select().expr(Expr::val(format!("{i}!"))).to_owned();
            let rows = rows(pipe, &piped(&q)).await;
            rows[0].get::<_, String>(0)
        }
    }))
    .await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a, &format!("{i}!"));
    }
    assert_eq!(pipe.prepared(), 1, "one statement, prepared once");
}

#[tokio::test]
async fn a_pipe_whose_connection_ended_is_replaced() {
    let db = TestDb::empty().await;
    let pool = piped_pool(&db, 4).await;
    let pipe = pool.pipe().await.unwrap().unwrap();
    let pid = pipe_pid(&pipe).await;
    let mut admin = db.connect().await;
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .unwrap();
    // The pipe learns of it when its connection reads the server's goodbye.
    for _ in 0..100 {
        if pipe.is_closed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pipe.is_closed());
    let fresh = pool.pipe().await.unwrap().expect("a new pipe");
    assert_ne!(pipe_pid(&fresh).await, pid);
    assert_eq!(pool.num_pipes(), 1, "the dead one was let go");
}

/// Creates table `t` holding one row, `a` = 7, and returns the statement that reads it.
async fn table_of_one(admin: &mut PgConnection) -> Piped {
    for sql in ["CREATE TABLE t (a int)", "INSERT INTO t VALUES (7)"] {
        sqlx::query(sql).execute(&mut *admin).await.unwrap();
    }
    piped(
        &Query::select()
            .column(Alias::new("a"))
            .from(Alias::new("t"))
            .to_owned(),
    )
}

#[tokio::test]
async fn a_statement_the_schema_changed_under_is_prepared_again() {
    let db = TestDb::empty().await;
    let mut admin = db.connect().await;
    let select = table_of_one(&mut admin).await;
    let pool = piped_pool(&db, 4).await;
    let pipe = pool.pipe().await.unwrap().unwrap();
    let got = rows(&pipe, &select).await;
    assert_eq!(got[0].get::<_, i32>(0), 7);
    sqlx::query("ALTER TABLE t ALTER a TYPE text")
        .execute(&mut admin)
        .await
        .unwrap();
    // The prepared statement's result type no longer holds: PostgreSQL refuses it, and the
    // pipe prepares the statement again instead of failing the read.
    let got = rows(&pipe, &select).await;
    assert_eq!(got[0].get::<_, &str>(0), "7");
}

#[tokio::test]
async fn a_pipe_keeps_a_bounded_number_of_prepared_statements() {
    let db = TestDb::empty().await;
    let pool = piped_pool(&db, 4).await;
    let pipe = pool.pipe().await.unwrap().unwrap();
    for k in 0..STATEMENTS + 20 {
        // One statement text per k: the column's name differs.
        let q = Query::select()
            .expr_as(Expr::val(1), Alias::new(format!("c{k}")))
            .to_owned();
        rows(&pipe, &piped(&q)).await;
    }
    assert_eq!(pipe.prepared(), STATEMENTS);
    // The server holds no more than the pipe does (plus this statement itself).
    let q = Query::select()
        .expr(Func::count(Expr::col(Asterisk)))
        .from(Alias::new("pg_prepared_statements"))
        .to_owned();
    let rows = rows(&pipe, &piped(&q)).await;
    let held: i64 = rows[0].get(0);
    assert!(held <= STATEMENTS as i64 + 1, "{held} statements prepared");
}

#[tokio::test]
async fn a_statement_that_outlasts_the_pipes_time_limit_is_handed_back_and_kept_off_the_pipe() {
    let db = TestDb::empty().await;
    let mut admin = db.connect().await;
    let select = table_of_one(&mut admin).await;
    let pool = piped_pool(&db, 4).await;
    let pipe = pool.pipe().await.unwrap().unwrap();
    // A migration holds the table: reading it waits until the lock is released, far longer
    // than the pipe allows. PostgreSQL cancels the read and the pipe hands it back.
    let mut migration = db.connect().await;
    for sql in ["BEGIN", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"] {
        sqlx::query(sql).execute(&mut migration).await.unwrap();
    }
    // (Bounded here too, so that a pipe without its limit fails the test instead of hanging.)
    let answer = tokio::time::timeout(Duration::from_secs(10), pipe.query(&select))
        .await
        .expect("the pipe's time limit cut the read short")
        .expect("no error");
    assert!(matches!(answer, Answer::TooSlow));
    // The pipe was not held up: other statements run on it meanwhile.
    let other = piped(&Query::select().expr(Expr::val(1)).to_owned());
    assert_eq!(rows(&pipe, &other).await[0].get::<_, i32>(0), 1);

    // The table is free again, yet the pipe does not try that statement again for a while;
    // an exclusive connection runs it.
    sqlx::query("COMMIT").execute(&mut migration).await.unwrap();
    assert!(matches!(
        pipe.query(&select).await.expect("no error"),
        Answer::TooSlow
    ));
    let mut lent = pool.acquire().await.unwrap();
    let row = select
        .into_statement()
        .pg()
        .fetch_one(lent.conn())
        .await
        .expect("the read on a connection of its own");
    assert_eq!(row.get::<i32, _>(0), 7);
    lent.release(true).await;
}
