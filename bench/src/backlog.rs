//! `spool-bench backlog`: fills one queue with a large backlog and reports the process's
//! anonymous resident memory (`RssAnon`; mapped file pages are the kernel's cache) while
//! filling, holding, receiving, closing and reopening (recovery).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use spool_engine::{Engine, EngineConfig, SystemClock};

use crate::{
    fmt_count, fmt_size, kind_name, kinds, mib, open_engine, print_machine, requests, scratch_dir,
    status_kib, BoxResult, FlusherArg, QUEUE, SYNC_INDEX_EVERY,
};

#[derive(Args)]
pub(crate) struct BacklogArgs {
    #[arg(long, default_value_t = 10_000_000)]
    messages: usize,
    #[arg(long, default_value_t = 100)]
    size: usize,
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, value_enum, default_value_t = FlusherArg::Pwrite)]
    flusher: FlusherArg,
    /// Parent of the scratch data directory (created and deleted by the run).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
}
fn rss_line(what: &str) -> u64 {
    let anon = status_kib("RssAnon");
    println!(
        "  {what:<48} RssAnon {:>8.1} MiB   RssFile {:>8.1} MiB",
        mib(anon),
        mib(status_kib("RssFile"))
    );
    anon
}

fn receive_delete_batch(e: &mut Engine, batch: usize) -> BoxResult<usize> {
    let msgs = e.receive(QUEUE, batch, None)?;
    for m in &msgs {
        e.delete_message(QUEUE, &m.receipt_handle)?;
    }
    e.flush()?;
    Ok(msgs.len())
}

pub(crate) fn run_backlog(a: &BacklogArgs) -> BoxResult<()> {
    print_machine(&a.dir);
    let kind = kinds(a.flusher)[0];
    let batch = a.batch.max(1);
    let batches = a.messages.div_ceil(batch);
    let n = batches * batch;
    println!(
        "backlog: {n} messages of {} in batches of {batch}, flusher {}",
        fmt_size(a.size),
        kind_name(kind)
    );
    let scratch = scratch_dir(&a.dir)?;
    let mut peak = rss_line("start");
    let mut e = open_engine(scratch.path(), kind)?;
    peak = peak.max(rss_line("engine open, queue created"));
    let reqs = requests(a.size, batch);
    let start = Instant::now();
    let mut last_sync = start;
    let report_every = (batches / 10).max(1);
    for b in 0..batches {
        for r in e.send(QUEUE, &reqs)? {
            r?;
        }
        e.flush()?;
        if last_sync.elapsed() >= SYNC_INDEX_EVERY {
            e.sync_index()?;
            last_sync = Instant::now();
        }
        if (b + 1) % report_every == 0 {
            let anon = status_kib("RssAnon");
            peak = peak.max(anon);
            println!(
                "  {:>10} sent, {:>6.1} s, {} msgs/s, RssAnon {:.1} MiB",
                (b + 1) * batch,
                start.elapsed().as_secs_f64(),
                fmt_count(((b + 1) * batch) as f64 / start.elapsed().as_secs_f64()),
                mib(anon)
            );
        }
    }
    e.sync_index()?;
    let fill = start.elapsed();
    let c = e.counters(QUEUE)?;
    println!(
        "filled in {:.1} s; ready {}, disk {:.0} MiB",
        fill.as_secs_f64(),
        c.ready,
        e.disk_bytes() as f64 / f64::from(1 << 20)
    );
    peak = peak.max(rss_line("after fill (backlog held)"));
    let got = receive_delete_batch(&mut e, batch)?;
    peak = peak.max(rss_line(&format!("after receiving+deleting {got}")));
    drop(e);
    rss_line("engine closed");
    let t = Instant::now();
    let cfg = EngineConfig {
        flusher: kind,
        ..EngineConfig::default()
    };
    let (mut e, _) = Engine::open(scratch.path(), cfg, Arc::new(SystemClock))?;
    let reopen = t.elapsed();
    peak = peak.max(rss_line(&format!(
        "reopened (recovery {:.2} s)",
        reopen.as_secs_f64()
    )));
    let got = receive_delete_batch(&mut e, batch)?;
    peak = peak.max(rss_line(&format!("after receiving+deleting {got}")));
    let c = e.counters(QUEUE)?;
    println!("ready after reopen: {}", c.ready);
    println!(
        "peak RssAnon sampled: {:.1} MiB (VmHWM, anon+file: {:.1} MiB)",
        mib(peak),
        mib(status_kib("VmHWM"))
    );
    drop(e);
    scratch.close()?;
    Ok(())
}
