//! A tmpfs of a given size, mounted for a test that needs a really full filesystem.
//!
//! Mounting needs root (CAP_SYS_ADMIN). Where it is refused, [`Tmpfs::mount`] returns
//! `None` and the caller says so on stderr before returning; no test may pass silently
//! without having run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A mounted tmpfs; unmounted (lazily, so open files do not keep it busy) on drop, also
/// when the test panics. Drop whatever writes to it (a daemon, an engine) first.
#[derive(Debug)]
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=`, e.g. `"4m"`) at `at`, creating the
    /// directory. `None` if this process may not mount.
    pub fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
