//! A scripted fake Spool server for the client's tests: a 127.0.0.1 listener whose
//! connections are driven by a closure in a thread. Frames are built and parsed with the
//! protocol crate only. Every read is bounded (EOF or a whole frame), nothing sleeps.

#![allow(dead_code)] // each test binary uses a different part of it

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use spool_client::protocol::{decode_frame, Request, Response, DEFAULT_MAX_FRAME};
use spool_client::ClientConfig;

/// One accepted connection, from the server's side.
pub struct Peer {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    pub fn new(stream: TcpStream) -> Peer {
        // A stuck test fails instead of hanging.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Peer {
            stream,
            buf: Vec::new(),
        }
    }

    /// The next request, or None at EOF.
    pub fn read_request(&mut self) -> Option<(u64, Request<'static>)> {
        loop {
            if let Some((frame, used)) = decode_frame(&self.buf, DEFAULT_MAX_FRAME).unwrap() {
                let id = frame.request_id;
                let req = Request::from_frame(&frame).unwrap().into_owned();
                self.buf.drain(..used);
                return Some((id, req));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads `n` requests.
    pub fn read_requests(&mut self, n: usize) -> Vec<(u64, Request<'static>)> {
        (0..n)
            .map(|_| self.read_request().expect("request"))
            .collect()
    }

    pub fn respond(&mut self, id: u64, resp: &Response<'_>) {
        let mut out = Vec::new();
        resp.encode(id, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Answers the Hello with the given max frame; returns the Hello's request id and key.
    pub fn hello_with(&mut self, max_frame: u32) -> (u64, Option<Vec<u8>>) {
        let (id, req) = self.read_request().expect("hello");
        let Request::Hello { api_key, .. } = req else {
            panic!("first request is not Hello: {req:?}");
        };
        self.respond(
            id,
            &Response::Hello {
                version: 1,
                max_frame,
                max_batch: 10_000,
                shard_count: 4,
            },
        );
        (id, api_key.map(std::borrow::Cow::into_owned))
    }

    pub fn hello(&mut self) -> (u64, Option<Vec<u8>>) {
        self.hello_with(DEFAULT_MAX_FRAME as u32)
    }

    /// Reads until the client closes (so the client sees no EOF before it is done).
    pub fn drain_until_eof(&mut self) {
        while self.read_request().is_some() {}
    }
}

/// A listener on 127.0.0.1 that accepts `conns` connections and runs `script(index,
/// peer)` for each in its own thread (index in accept order). The handle joins them all,
/// re-raising a script's panic.
pub fn serve_n(
    conns: usize,
    script: impl Fn(usize, Peer) + Send + Sync + 'static,
) -> (ClientConfig, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let script = std::sync::Arc::new(script);
    let handle = thread::spawn(move || {
        let mut threads = Vec::new();
        for i in 0..conns {
            let (stream, _) = listener.accept().unwrap();
            let script = std::sync::Arc::clone(&script);
            threads.push(thread::spawn(move || script(i, Peer::new(stream))));
        }
        for t in threads {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    let cfg = ClientConfig {
        addr,
        io_timeout: Some(Duration::from_secs(20)),
        ..ClientConfig::default()
    };
    (cfg, handle)
}

/// A listener serving one connection with `script`.
pub fn serve(script: impl FnOnce(Peer) + Send + 'static) -> (ClientConfig, JoinHandle<()>) {
    let script = std::sync::Mutex::new(Some(script));
    serve_n(1, move |_, peer| {
        let f = script.lock().unwrap().take().unwrap();
        f(peer);
    })
}
