//! A peer server started for one series of runs: its own process group, a fresh
//! temporary data directory, and 127.0.0.1 ports picked free. Dropping it stops the whole
//! group (SIGTERM, then SIGKILL after 10 s) and removes the data directory.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{CompareError, Res};

pub(crate) struct ServerProcess {
    pub child: Child,
    pub dir: tempfile::TempDir,
}

/// The first of `names` found on PATH or in /usr/sbin and /usr/lib/rabbitmq/bin.
pub(crate) fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/lib/rabbitmq/bin".into());
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> Res<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl ServerProcess {
    /// Starts `cmd` (after `configure` has set its arguments, given the data directory)
    /// with output going to `<dir>/server.log`.
    pub(crate) fn start(
        name: &str,
        parent: &Path,
        configure: impl FnOnce(&Path) -> Command,
    ) -> Res<ServerProcess> {
        std::fs::create_dir_all(parent)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(parent)?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let log2 = log.try_clone()?;
        let mut cmd = configure(dir.path());
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        let child = cmd.spawn().map_err(|source| CompareError::Spawn {
            name: name.to_string(),
            source,
        })?;
        Ok(ServerProcess { child, dir })
    }

    /// Waits until `port` accepts connections, or fails after `limit` (with the end of
    /// the server's log) or as soon as the server exits.
    pub(crate) fn wait_for_port(&mut self, port: u16, limit: Duration) -> Res<()> {
        let end = Instant::now() + limit;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(CompareError::Exited {
                    status,
                    log: self.log_tail(),
                });
            }
            if Instant::now() > end {
                return Err(CompareError::NotListening {
                    limit,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the process group; no pointers.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; the group may already be gone (ESRCH is fine).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
