//! Outgoing HTTP (webhooks, `https://` inputs): one client, and the rule that private
//! addresses are not reached unless the server allows it (`--allow-private-urls`).

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

/// A client with a timeout that treats every status as an answer.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .user_agent("gst-redact")
        .build()
        .into()
}

/// Loopback, private, link-local, unique-local, unspecified, broadcast, CGNAT and
/// documentation addresses: nothing a public callback or input lives at.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks an `http(s)://` URL: its scheme, and (unless `allow_private`) that every address
/// its host resolves to is public.
pub fn check_url(url: &str, https_only: bool, allow_private: bool) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://").filter(|_| !https_only) {
        r
    } else {
        return Err(if https_only {
            "must be an https:// URL".into()
        } else {
            "must be an http:// or https:// URL".into()
        });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err("needs a host (and no user:password@)".into());
    }
    let default_port = if url.starts_with("https://") { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h, p),
            Err(_) if authority.starts_with('[') && authority.ends_with(']') => {
                (authority, default_port)
            }
            Err(_) => return Err("bad port".into()),
        },
        _ => (authority, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if allow_private {
        return Ok(());
    }
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|_| format!("cannot resolve the host '{host}'"))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|a| is_private(a.ip())) {
        return Err(format!(
            "'{host}' is a private or local address, which this server does not call (--allow-private-urls)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "https://10.1.2.3/x",
            "http://192.168.0.10/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://[fd00::1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ] {
            assert!(check_url(url, false, false).is_err(), "{url} passed");
            assert!(
                check_url(url, false, true).is_ok(),
                "{url} refused when allowed"
            );
        }
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://",
            "http://user:pw@host/",
        ] {
            assert!(check_url(bad, false, true).is_err(), "{bad} passed");
        }
        assert!(
            check_url("http://93.184.215.14/", true, false).is_err(),
            "http with https only"
        );
        assert!(check_url("https://93.184.215.14:8443/x", true, false).is_ok());
    }
}
