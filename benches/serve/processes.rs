//! The processes of a run: `botrun emulator` and each replica of `botrun serve`, started from the
//! binary cargo built for this bench (or `BOTRUN_BIN`), and their CPU time and memory read from
//! `/proc/<pid>/stat` and `/proc/<pid>/status`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `botrun` binary the children run.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("BOTRUN_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_botrun")), PathBuf::from);
    assert!(
        path.is_file(),
        "no botrun binary at {} — build it with `cargo build --release` and set \
         BOTRUN_BIN=target/release/botrun, or unset BOTRUN_BIN to use the one cargo built \
         for this bench",
        path.display()
    );
    path
}

/// A free loopback port (the listener is closed again: the child binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process, stopped (SIGTERM, then SIGKILL after 30 s) when dropped.
pub struct Process {
    pub name: String,
    child: Child,
}

impl Process {
    /// Starts `binary args…` with `env`, its stdout and stderr into `log`.
    pub fn start(name: &str, args: &[&str], env: &[(&str, &str)], log: &Path) -> Process {
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(binary())
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process { name: name.to_owned(), child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `url` answers 200, or panics with the log after 30 s or when the
    /// process exits.
    pub async fn wait_ready(&mut self, url: &str, log: &Path) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "{} did not become ready at {url} ({exited:?}); its log:\n{}",
                self.name,
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU time (user + system) so far.
    pub fn cpu(&self) -> Duration {
        cpu_of(&format!("/proc/{}/stat", self.pid()))
    }

    /// Resident memory now and at its peak, in bytes (`VmRSS`, `VmHWM`).
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 30 s).
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// This process's own CPU time so far (the load generator and the forwarder).
pub fn own_cpu() -> Duration {
    cpu_of("/proc/self/stat")
}

/// CPU time so far of every PostgreSQL server process on this machine (backends, WAL writer,
/// checkpointer…), by pid: what the database spends for the run when it is local.
pub fn postgres_cpu() -> HashMap<u32, Duration> {
    let mut cpu = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
                cpu.insert(pid, cpu_of_stat(&stat));
            }
        }
    }
    cpu
}

/// What the PostgreSQL server processes spent between two [`postgres_cpu`] readings (a process
/// started in between counts from zero).
pub fn postgres_cpu_since(before: &HashMap<u32, Duration>) -> Duration {
    postgres_cpu()
        .iter()
        .map(|(pid, now)| now.saturating_sub(before.get(pid).copied().unwrap_or_default()))
        .sum()
}

/// `utime + stime` of a `/proc/…/stat` file.
fn cpu_of(path: &str) -> Duration {
    cpu_of_stat(&std::fs::read_to_string(path).unwrap())
}

fn cpu_of_stat(stat: &str) -> Duration {
    // The command name (field 2) may hold spaces; the fields after its `)` start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 1000 / ticks_per_second())
}

/// `getconf CLK_TCK` (100 on Linux nearly everywhere).
fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}
