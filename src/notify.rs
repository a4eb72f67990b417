//! A small sd_notify client: tells systemd we are ready, reloading, stopping, alive, and how we
//! are doing, over the datagram socket named by `NOTIFY_SOCKET`. Without that variable every call
//! does nothing, so the daemon runs the same outside systemd.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where notifications go.
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
}

enum Target {
    Path(std::path::PathBuf),
    #[cfg(target_os = "linux")]
    Abstract(Vec<u8>),
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|s| {
            let s = s.to_string_lossy().into_owned();
            if let Some(name) = s.strip_prefix('@') {
                #[cfg(target_os = "linux")]
                return Some(Target::Abstract(name.as_bytes().to_vec()));
                #[cfg(not(target_os = "linux"))]
                return None;
            }
            (!s.is_empty()).then(|| Target::Path(s.into()))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|us| *us > 0 && for_us)
            .map(Duration::from_micros);
        Notifier { target, watchdog }
    }

    /// The watchdog timeout systemd expects pings within, when it expects any.
    pub fn watchdog_timeout(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one notification (newline-separated `KEY=value` assignments). Failures are logged,
    /// never fatal: systemd going away must not take the daemon with it.
    pub fn send(&self, message: &str) {
        let Some(target) = &self.target else { return };
        // Never block: a service manager that does not read (or a full queue) must not stall the
        // async threads this is called from; a dropped STATUS or WATCHDOG is harmless, the next
        // one follows shortly.
        let result = UnixDatagram::unbound()
            .and_then(|sock| sock.set_nonblocking(true).map(|()| sock))
            .and_then(|sock| match target {
                Target::Path(p) => sock.send_to(message.as_bytes(), p).map(|_| ()),
                #[cfg(target_os = "linux")]
                Target::Abstract(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                    sock.send_to_addr(message.as_bytes(), &addr).map(|_| ())
                }
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }

    pub fn ready(&self) {
        self.send("READY=1");
    }

    pub fn reloading(&self) {
        self.send("RELOADING=1");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    pub fn status(&self, status: &str) {
        // A status line is one line; newlines would start new assignments.
        self.send(&format!("STATUS={}", status.replace('\n', " ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: Some(Target::Path(path)),
            watchdog: None,
        };
        n.ready();
        n.status("3 sources\nok");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=3 sources ok");
    }

    #[test]
    fn without_socket_nothing_happens() {
        let n = Notifier {
            target: None,
            watchdog: None,
        };
        n.ready();
        assert!(n.watchdog_timeout().is_none());
    }
}
