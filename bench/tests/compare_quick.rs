//! Keeps `spool-bench compare` working: runs its `--quick` profile against Spool (binary
//! protocol and SQS API; the peers too when `SPOOL_COMPARE_PEERS=1` and they are
//! installed) and checks what it wrote: a JSON result per run with messages moved and
//! latencies recorded, the Markdown tables, and the plots. No timing is asserted.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_quick_profile_runs_and_writes_its_results() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_spool-bench"));
    assert!(
        exe.with_file_name("spoold").exists(),
        "spoold is built next to spool-bench by `cargo test --workspace`"
    );
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let peers = std::env::var("SPOOL_COMPARE_PEERS").is_ok_and(|v| v == "1");
    let targets = if peers {
        "spool-binary,spool-sqs,redis,rabbitmq,nats"
    } else {
        "spool-binary,spool-sqs"
    };
    let status = Command::new(&exe)
        .args(["compare", "--quick", "--targets", targets])
        // Short runs: this checks the harness, not the figures.
        .args(["--duration", "1", "--warmup", "0.3"])
        .arg("--out")
        .arg(out.path())
        .arg("--dir")
        .arg(data.path())
        .status()
        .unwrap();
    assert!(status.success(), "spool-bench compare --quick failed");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap()).unwrap();
    let results = json["results"].as_array().unwrap();
    // 2 targets × 1 size × 1 durability × 2 kinds, at least.
    assert!(results.len() >= 4, "{results:?}");
    for r in results {
        let name = r["target"].as_str().unwrap();
        if !name.starts_with("spool") {
            continue;
        }
        assert!(r["error"].is_null(), "{name} failed: {}", r["error"]);
        assert!(
            r["msgs_per_s"].as_f64().unwrap() > 0.0,
            "{name} moved nothing"
        );
        assert!(r["end_to_end_us"]["count"].as_u64().unwrap() > 0);
        assert!(r["send_ack_us"]["p50"].as_u64().unwrap() > 0);
        assert!(r["server_cpu"].as_f64().unwrap() > 0.0);
        assert!(r["server_rss_bytes"].as_u64().unwrap() > 0);
    }
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"standard") && kinds.contains(&"fifo"));

    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert!(md.contains("### sync durability, standard queue"), "{md}");
    assert!(md.contains("| 100 B | spool-binary |"), "{md}");
    for plot in ["throughput-sync-standard.svg", "latency.svg"] {
        let svg = std::fs::read_to_string(out.path().join(plot)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("spool-binary"),
            "{plot}"
        );
    }
}
