//! The outbound policy: where content may make the daemon connect.
//!
//! Everything the daemon fetches on behalf of content (feeds, pages, sitemaps and their
//! children, robots.txt, discovered feeds, WebSub hubs) goes through one client whose DNS
//! resolver and redirect policy consult this module. The check runs on the addresses the
//! connection is actually made to, so a public name that resolves to a private address, and a
//! name that is rebound between a check and the connect, are both refused: there is no second
//! resolution to race. Literal addresses never reach a resolver, so they are checked on the URL
//! (before the first request and on every redirect hop); the `url` crate has already normalised
//! every IPv4 notation (`0x7f.1`, `2130706433`, `127.1`) to dotted quads by then.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// Why a destination was refused; carried through reqwest's error chain so that the fetcher can
/// tell a refusal from a network failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing {target}: {rule} (set fetch.allow_private_addresses or fetch.allowed_networks to allow)"
)]
pub struct Refusal {
    /// The URL, or `host -> address` for a resolved name.
    pub target: String,
    /// The rule that refused it, e.g. `loopback (127.0.0.0/8)`; also the metric's label.
    pub rule: &'static str,
}

/// The IANA special-purpose ranges (IPv4: RFC 6890 registry; IPv6 likewise) that no content may
/// send the daemon to, with the names logs and metrics use. The whole of each registry is listed,
/// including blocks marked "globally reachable" there (AS112, AMT, 6to4 relays): no news site
/// lives on them, and a refusal is cheaper than an argument about which of them is safe.
const V4_RANGES: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network (0.0.0.0/8)"),
    ("10.0.0.0/8", "private (10.0.0.0/8)"),
    (
        "100.64.0.0/10",
        "shared address space / CGNAT (100.64.0.0/10)",
    ),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
    ("172.16.0.0/12", "private (172.16.0.0/12)"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation (192.0.2.0/24)"),
    ("192.31.196.0/24", "AS112 (192.31.196.0/24)"),
    ("192.52.193.0/24", "AMT (192.52.193.0/24)"),
    ("192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"),
    ("192.168.0.0/16", "private (192.168.0.0/16)"),
    (
        "192.175.48.0/24",
        "AS112 direct delegation (192.175.48.0/24)",
    ),
    ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
    ("198.51.100.0/24", "documentation (198.51.100.0/24)"),
    ("203.0.113.0/24", "documentation (203.0.113.0/24)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
];

const V6_RANGES: &[(&str, &str)] = &[
    ("::/128", "unspecified (::/128)"),
    ("::1/128", "loopback (::1/128)"),
    ("::ffff:0:0/96", "IPv4-mapped (::ffff:0:0/96)"),
    ("::/96", "IPv4-compatible (::/96)"),
    ("64:ff9b::/96", "NAT64 (64:ff9b::/96)"),
    ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
    ("100::/64", "discard-only (100::/64)"),
    ("100:0:0:1::/64", "dummy prefix (100:0:0:1::/64)"),
    ("2001::/23", "IETF protocol assignments (2001::/23)"),
    ("2001:db8::/32", "documentation (2001:db8::/32)"),
    ("2002::/16", "6to4 (2002::/16)"),
    ("3fff::/20", "documentation (3fff::/20)"),
    ("5f00::/16", "segment routing SIDs (5f00::/16)"),
    ("fc00::/7", "unique-local (fc00::/7)"),
    ("fe80::/10", "link-local (fe80::/10)"),
    ("fec0::/10", "site-local (fec0::/10)"),
    ("ff00::/8", "multicast (ff00::/8)"),
];

/// The ranges, parsed once; the most specific match names the rule.
fn special_ranges() -> &'static [(IpNet, &'static str)] {
    static RANGES: std::sync::OnceLock<Vec<(IpNet, &'static str)>> = std::sync::OnceLock::new();
    RANGES.get_or_init(|| {
        let v4 = V4_RANGES.iter().map(|(net, rule)| {
            let net: Ipv4Net = net.parse().expect("the IPv4 table holds valid networks");
            (IpNet::V4(net), *rule)
        });
        let v6 = V6_RANGES.iter().map(|(net, rule)| {
            let net: Ipv6Net = net.parse().expect("the IPv6 table holds valid networks");
            (IpNet::V6(net), *rule)
        });
        let mut all: Vec<_> = v4.chain(v6).collect();
        all.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        all
    })
}

/// The special-purpose range an address falls in, if any.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    if let IpAddr::V4(v4) = ip
        && v4 == Ipv4Addr::BROADCAST
    {
        return Some("limited broadcast (255.255.255.255/32)");
    }
    special_ranges()
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, rule)| *rule)
}

/// What content may reach: public unicast addresses over http(s), plus what the operator allows.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// `fetch.allow_private_addresses`: the explicit opt-out of every address check.
    pub allow_private: bool,
    /// `fetch.allowed_networks`: special-purpose networks the operator vouches for.
    pub allowed: Vec<IpNet>,
    /// `fetch.resolve`: names pinned to addresses (like curl's `--resolve`); still checked.
    pub pinned: HashMap<String, Vec<IpAddr>>,
}

impl Refusal {
    /// Names the URL that was asked for when the refusal came from elsewhere (a redirect hop,
    /// a resolved name, its host's robots.txt): `url (what was refused)`.
    pub fn about(mut self, url: &Url) -> Refusal {
        if self.target != url.as_str() {
            self.target = format!("{url} ({})", self.target);
        }
        self
    }
}

impl OutboundPolicy {
    /// Refuses an address unless it is public or allowed by the operator.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.allow_private || self.allowed.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        match special_purpose(ip) {
            Some(rule) => Err(rule),
            None => Ok(()),
        }
    }

    /// The checks that can be made on a URL alone: the scheme, and a literal address as host.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        let refuse = |rule| Refusal {
            target: url.to_string(),
            rule,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("scheme other than http or https"));
        }
        let ip = match url.host() {
            None => return Err(refuse("no host")),
            Some(url::Host::Domain(_)) => return Ok(()),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        self.check_ip(ip).map_err(refuse)
    }

    /// The addresses of a resolved name that may be connected to; a refusal when none may.
    pub fn filter_resolved(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        let mut first_refusal = None;
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match self.check_ip(a.ip()) {
                Ok(()) => true,
                Err(rule) => {
                    first_refusal.get_or_insert((a.ip(), rule));
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_refusal) {
            (true, Some((ip, rule))) => Err(Refusal {
                target: format!("{host} -> {ip}"),
                rule,
            }),
            _ => Ok(allowed),
        }
    }

    /// Finds a refusal in an error's chain (reqwest wraps the resolver's and the redirect
    /// policy's errors several times).
    pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(r) = err.downcast_ref::<Refusal>() {
                return Some(r.clone());
            }
            cur = err.source();
        }
        None
    }
}

/// The DNS resolver of the content client: the system resolver (or a pinned name), then the
/// policy on every address it returns. reqwest connects only to what this returns.
#[derive(Clone)]
pub struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl PolicyResolver {
    pub fn new(policy: Arc<OutboundPolicy>) -> PolicyResolver {
        PolicyResolver { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
            let addrs: Vec<SocketAddr> = match policy.pinned.get(&host) {
                Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let allowed = policy.filter_resolved(&host, addrs)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A redirect policy that re-checks every hop and stops after `max` hops.
pub fn redirects(policy: Arc<OutboundPolicy>, max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(TooManyRedirects(max));
        }
        match policy.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    })
}

/// The redirect chain was longer than allowed.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} redirects")]
pub struct TooManyRedirects(pub usize);

/// A client builder that connects only where the policy allows: its resolver, its redirect
/// policy, and no proxy from the environment (a proxy would resolve names where no check runs).
pub fn client_builder(policy: Arc<OutboundPolicy>, max_redirects: usize) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
        .redirect(redirects(policy, max_redirects))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &OutboundPolicy, url: &str) -> Option<&'static str> {
        policy
            .check_url(&Url::parse(url).expect("test URLs parse"))
            .err()
            .map(|r| r.rule)
    }

    #[test]
    fn every_notation_of_a_special_address_is_refused() {
        let p = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1/x",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://2130706433/",
            "http://017700000001/",
            "http://0.0.0.0/",
            "http://10.1.2.3/",
            "http://172.31.255.255/",
            "http://192.168.0.1/",
            "http://100.100.100.100/",
            "http://169.254.169.254/latest/meta-data",
            "http://192.0.2.7/",
            "http://198.18.0.1/",
            "http://203.0.113.9/",
            "http://224.0.0.1/",
            "http://240.0.0.1/",
            "http://255.255.255.255/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::ffff:8.8.8.8]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[2001:db8::1]/",
            "http://[2002:7f00:1::]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://[fec0::1]/",
            "http://[ff02::1]/",
        ] {
            assert!(refused(&p, url).is_some(), "{url} should be refused");
        }
        assert_eq!(
            refused(&p, "http://127.0.0.1/"),
            Some("loopback (127.0.0.0/8)")
        );
        assert_eq!(
            refused(&p, "http://169.254.169.254/"),
            Some("link-local (169.254.0.0/16)")
        );
    }

    #[test]
    fn public_addresses_and_names_pass_the_url_check() {
        let p = OutboundPolicy::default();
        for url in [
            "https://www.scmp.com/news",
            "http://8.8.8.8/",
            "http://[2606:4700::1111]/",
            "http://100.128.0.1/",
            "http://172.32.0.1/",
            "http://localhost/",
        ] {
            assert_eq!(refused(&p, url), None, "{url}");
        }
    }

    #[test]
    fn only_http_and_https() {
        let p = OutboundPolicy::default();
        for url in [
            "file:///etc/passwd",
            "ftp://example.org/",
            "gopher://example.org/",
        ] {
            assert_eq!(
                refused(&p, url),
                Some("scheme other than http or https"),
                "{url}"
            );
        }
        let open = OutboundPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(refused(&open, "file:///etc/passwd").is_some());
    }

    #[test]
    fn the_operator_can_open_private_ranges() {
        let open = OutboundPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert_eq!(refused(&open, "http://127.0.0.1/"), None);
        let listed = OutboundPolicy {
            allowed: vec!["10.20.0.0/16".parse().expect("valid")],
            ..Default::default()
        };
        assert_eq!(refused(&listed, "http://10.20.3.4/feed"), None);
        assert!(refused(&listed, "http://10.21.0.1/").is_some());
        assert!(refused(&listed, "http://127.0.0.1/").is_some());
    }

    #[test]
    fn resolved_names_keep_only_allowed_addresses() {
        let p = OutboundPolicy::default();
        let a = |s: &str| SocketAddr::new(s.parse().expect("valid"), 0);
        let err = p
            .filter_resolved("evil.example", vec![a("127.0.0.1"), a("::1")])
            .expect_err("loopback only");
        assert_eq!(err.target, "evil.example -> 127.0.0.1");
        assert_eq!(err.rule, "loopback (127.0.0.0/8)");
        let mixed = p
            .filter_resolved("mixed.example", vec![a("10.0.0.1"), a("93.184.216.34")])
            .expect("one public address");
        assert_eq!(mixed, vec![a("93.184.216.34")]);
    }

    #[tokio::test]
    async fn the_resolver_checks_pinned_names() {
        let policy = Arc::new(OutboundPolicy {
            pinned: HashMap::from([(
                "evil.example".to_string(),
                vec!["127.0.0.1".parse().expect("valid")],
            )]),
            ..Default::default()
        });
        let resolver = PolicyResolver::new(policy);
        let name: Name = "evil.example".parse().expect("a name");
        let err = match resolver.resolve(name).await {
            Ok(_) => panic!("a loopback answer must be refused"),
            Err(e) => e,
        };
        let refusal = OutboundPolicy::refusal_in(err.as_ref()).expect("a refusal in the chain");
        assert_eq!(refusal.rule, "loopback (127.0.0.0/8)");
    }
}
