//! A throw-away PostgreSQL server for the inventory tests: `initdb` in a
//! temporary directory (as the `postgres` user when run as root), started on
//! a free loopback port, stopped when dropped. The Debian package
//! `postgresql` is a test dependency (scripts/test installs it); without it
//! the tests that use this fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A throw-away PostgreSQL cluster in a temporary directory.
pub struct PgCluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

fn pg_bindir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").is_file());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql: install the Debian package postgresql (scripts/test does)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgCluster {
    pub fn start() -> PgCluster {
        let bin = pg_bindir();
        let dir = tempfile::tempdir().unwrap();
        let as_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        if as_root {
            // initdb refuses root: the cluster belongs to the postgres user.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::create_dir(&data).unwrap();
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&sock)
                .arg(&data)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = free_port();
        let c = PgCluster {
            _dir: dir,
            data,
            bin,
            port,
            as_root,
        };
        c.run(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "phonehome",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ],
            &[c.data.as_path()],
        );
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            sock.display()
        );
        let log = sock.join("server.log");
        c.run(
            "pg_ctl",
            &["-w", "-t", "60", "-o", &opts, "-l"],
            &[
                log.as_path(),
                Path::new("-D"),
                c.data.as_path(),
                Path::new("start"),
            ],
        );
        c
    }

    fn run(&self, tool: &str, args: &[&str], paths: &[&Path]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).args(paths).stdout(Stdio::null());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://phonehome@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
