//! Pool behaviour against a fake server that counts connections: healthy connections are
//! reused, broken ones, busy ones and ones the server closed are not.

mod fake;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use fake::serve_n;
use spool_client::protocol::{Request, Response};
use spool_client::{ClientError, Pool, PooledConnection};

/// Answers every Ping with Pong until the client closes.
fn pong_until_eof(p: &mut fake::Peer) {
    while let Some((id, req)) = p.read_request() {
        assert_eq!(req, Request::Ping);
        p.respond(id, &Response::Pong);
    }
}

#[test]
fn pool_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    check::<Pool>();
    send::<PooledConnection>();
}

#[test]
fn returned_connections_are_reused() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let (cfg, server) = serve_n(1, move |_, mut p| {
        counter.fetch_add(1, Ordering::SeqCst);
        p.hello();
        pong_until_eof(&mut p);
    });
    let pool = Pool::new(cfg, 4);
    assert_eq!(pool.idle_count(), 0, "connects lazily");
    for _ in 0..5 {
        let mut c = pool.get().unwrap();
        c.ping().unwrap();
    }
    assert_eq!(pool.idle_count(), 1);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    drop(pool); // closes the idle connection, so the fake sees EOF
    server.join().unwrap();
}

#[test]
fn broken_connections_are_discarded() {
    let (cfg, server) = serve_n(2, |i, mut p| {
        p.hello();
        if i == 0 {
            // Answer the first ping with garbage: the client must not reuse this stream.
            let _ = p.read_request().unwrap();
            p.write_raw(&[1, 0, 0, 0]);
            p.drain_until_eof();
        } else {
            pong_until_eof(&mut p);
        }
    });
    let pool = Pool::new(cfg, 4);
    {
        let mut c = pool.get().unwrap();
        assert!(matches!(c.ping(), Err(ClientError::Protocol(_))));
    }
    assert_eq!(pool.idle_count(), 0, "a poisoned connection is dropped");
    {
        let mut c = pool.get().unwrap();
        c.ping().unwrap();
    }
    assert_eq!(pool.idle_count(), 1);
    drop(pool);
    server.join().unwrap();
}

#[test]
fn connections_with_requests_in_flight_are_not_returned() {
    let (cfg, server) = serve_n(1, |_, mut p| {
        p.hello();
        p.drain_until_eof();
    });
    let pool = Pool::new(cfg, 4);
    {
        let mut c = pool.get().unwrap();
        c.submit(&Request::Ping).unwrap();
        c.flush().unwrap();
        assert_eq!(c.in_flight(), 1);
    }
    assert_eq!(pool.idle_count(), 0);
    server.join().unwrap();
}

#[test]
fn idle_connection_closed_by_the_server_is_replaced() {
    let (cfg, server) = serve_n(2, |i, mut p| {
        p.hello();
        if i == 0 {
            // One ping, then the server goes away while the connection idles in the pool.
            let (id, _) = p.read_request().unwrap();
            p.respond(id, &Response::Pong);
        } else {
            pong_until_eof(&mut p);
        }
    });
    let pool = Pool::new(cfg, 4);
    pool.get().unwrap().ping().unwrap();
    assert_eq!(pool.idle_count(), 1);
    let mut c = pool.get().unwrap();
    // Either `get` saw the close and connected anew, or the close raced the probe; in
    // that case the ping fails with Closed and a fresh `get` must succeed.
    match c.ping() {
        Ok(()) => {}
        Err(ClientError::Closed | ClientError::Io(_)) => {
            drop(c);
            c = pool.get().unwrap();
            c.ping().unwrap();
        }
        Err(e) => panic!("{e:?}"),
    }
    drop(c);
    assert_eq!(pool.idle_count(), 1);
    drop(pool);
    server.join().unwrap();
}

#[test]
fn max_idle_bounds_the_idle_list() {
    let (cfg, server) = serve_n(3, |_, mut p| {
        p.hello();
        pong_until_eof(&mut p);
    });
    let pool = Pool::new(cfg, 1);
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    let c = pool.get().unwrap();
    drop((a, b, c));
    assert_eq!(pool.idle_count(), 1);
    drop(pool);
    server.join().unwrap();
}

#[test]
fn threads_share_a_pool() {
    const THREADS: usize = 4;
    let (cfg, server) = serve_n(THREADS, |_, mut p| {
        p.hello();
        pong_until_eof(&mut p);
    });
    let pool = Pool::new(cfg, THREADS);
    // Open THREADS connections up front so the fake's accept count is met whatever the
    // threads' timing (a thread may find them all idle or all taken).
    let conns: Vec<PooledConnection> = (0..THREADS).map(|_| pool.get().unwrap()).collect();
    drop(conns);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    pool.get().unwrap().ping().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(pool.idle_count() <= THREADS);
    drop(pool);
    server.join().unwrap();
}
