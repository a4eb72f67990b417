//! `[daemon]` keys about who may reach the API: the bearer token (environment variable or file),
//! the refusal to serve beyond loopback without one, the Host allowlist and the CORS origins.

use std::net::SocketAddr;

use super::{Config, ConfigError, ConfigProblem, DaemonConfig};

/// Checks the shape of `allowed_hosts` and `cors_origins` (part of [`super::validate`]).
pub(super) fn validate(d: &DaemonConfig, push: &mut impl FnMut(&str, &str, String)) {
    for host in &d.allowed_hosts {
        if normal_host(host).is_none() {
            push(
                "[daemon]",
                "allowed_hosts",
                format!(
                    "`{host}` is not a host name or address without port, like wirewatch.example.org"
                ),
            );
        }
    }
    for origin in &d.cors_origins {
        match url::Url::parse(origin) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.origin().ascii_serialization() == *origin => {}
            _ => push(
                "[daemon]",
                "cors_origins",
                format!(
                    "`{origin}` is not an exact origin like https://desk.example.org (scheme, host, optional port; no path, no wildcard)"
                ),
            ),
        }
    }
}

/// A host name or IP address as the Host check compares it: lower case, no trailing dot, IPv6
/// without brackets. `None` when `host` is not one (a port, a path or a scheme included).
pub fn normal_host(host: &str) -> Option<String> {
    let u = url::Url::parse(&format!("http://{host}/")).ok()?;
    let parsed = match u.host()? {
        url::Host::Domain(d) => d.trim_end_matches('.').to_string(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    let plain = host.trim_end_matches('.').to_ascii_lowercase();
    let plain = plain.trim_start_matches('[').trim_end_matches(']');
    (u.port().is_none()
        && u.username().is_empty()
        && u.path() == "/"
        && !parsed.is_empty()
        && parsed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        && parsed == plain)
        .then_some(parsed)
}

/// Whether `listen` is a loopback address (an unparsable one counts as not: `validate` reports it).
pub fn is_loopback_listen(listen: &str) -> bool {
    listen
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().to_canonical().is_loopback())
}

impl Config {
    /// The API bearer token: the first line of `api_token_file` when that is set, else the
    /// environment variable `api_token_env` names (empty counts as unset). Refuses a `listen`
    /// address beyond loopback without a token unless `allow_anonymous` says so: the daemon
    /// (`run`) and `check-config` both ask this before anything listens.
    pub fn api_token(&self) -> Result<Option<String>, ConfigError> {
        let d = &self.daemon;
        let file = self
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "configuration".into());
        let problem = |field: &str, message: String| ConfigError {
            problems: vec![ConfigProblem {
                file: file.clone(),
                line: None,
                place: "[daemon]".into(),
                field: field.into(),
                message,
            }],
        };
        let token = match &d.api_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    problem(
                        "api_token_file",
                        format!("cannot read the token file {}: {e}", path.display()),
                    )
                })?;
                let token = text.lines().next().unwrap_or("").trim().to_string();
                if token.is_empty() {
                    return Err(problem(
                        "api_token_file",
                        format!("the token file {} is empty", path.display()),
                    ));
                }
                Some(token)
            }
            None => std::env::var(&d.api_token_env)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        };
        if token.is_none() && !d.allow_anonymous && !is_loopback_listen(&d.listen) {
            return Err(problem(
                "listen",
                format!(
                    "`{}` is not a loopback address, and no API token is set: anyone who reaches it could change alerts. Set the environment variable `{}` (named by `api_token_env`) or `api_token_file`, or set `allow_anonymous = true` to serve it without a token",
                    d.listen, d.api_token_env
                ),
            ));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &std::path::Path, daemon: &str) -> Config {
        let path = dir.join("wirewatch.toml");
        std::fs::write(&path, format!("[daemon]\n{daemon}\n")).unwrap();
        Config::load(&path).unwrap()
    }

    #[test]
    fn token_file_is_relative_to_the_config_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.token"), "from-file\n").unwrap();
        let c = load(
            dir.path(),
            "listen = \"0.0.0.0:8088\"\napi_token_env = \"WW_UNIT_NO_SUCH_VAR\"\napi_token_file = \"api.token\"",
        );
        assert_eq!(c.api_token().unwrap().as_deref(), Some("from-file"));
        std::fs::write(dir.path().join("api.token"), "\n").unwrap();
        let err = c.api_token().unwrap_err();
        assert_eq!(err.problems[0].field, "api_token_file", "{err}");
    }

    #[test]
    fn beyond_loopback_needs_a_token_or_allow_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        let unset = "api_token_env = \"WW_UNIT_NO_SUCH_VAR\"";
        for listen in ["0.0.0.0:8088", "[::]:8088", "192.0.2.7:80"] {
            let c = load(dir.path(), &format!("listen = \"{listen}\"\n{unset}"));
            let err = c.api_token().unwrap_err();
            let p = &err.problems[0];
            assert_eq!((p.place.as_str(), p.field.as_str()), ("[daemon]", "listen"));
            for named in ["api_token_env", "api_token_file", "allow_anonymous"] {
                assert!(p.message.contains(named), "{p}");
            }
            assert!(p.file.ends_with("wirewatch.toml"), "{p}");
            let c = load(
                dir.path(),
                &format!("listen = \"{listen}\"\n{unset}\nallow_anonymous = true"),
            );
            assert_eq!(c.api_token().unwrap(), None);
        }
        for listen in ["127.0.0.1:8088", "[::1]:8088", "127.0.0.2:1"] {
            let c = load(dir.path(), &format!("listen = \"{listen}\"\n{unset}"));
            assert_eq!(c.api_token().unwrap(), None, "{listen}");
        }
    }

    #[test]
    fn hosts_and_origins_are_checked() {
        for ok in [
            "wirewatch.example.org",
            "Desk.Example.org.",
            "10.0.0.5",
            "[::1]",
        ] {
            assert!(normal_host(ok).is_some(), "{ok}");
        }
        assert_eq!(normal_host("[::1]").as_deref(), Some("::1"));
        assert_eq!(
            normal_host("Desk.Example.org.").as_deref(),
            Some("desk.example.org")
        );
        for bad in [
            "",
            "*",
            "*.example.org",
            "example.org:8088",
            "https://example.org",
            "example.org/x",
            "a b",
        ] {
            assert!(normal_host(bad).is_none(), "{bad}");
        }
        let text = "[daemon]\nallowed_hosts = [\"ok.example\", \"bad.example:80\"]\ncors_origins = [\"https://desk.example\", \"*\", \"https://desk.example/\", \"https://desk.example:8443\"]\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["allowed_hosts", "cors_origins", "cors_origins"],
            "{err}"
        );
    }
}
