//! mDNS/DNS-SD (feature `mdns`): a server advertised as a DNS-SD service, and a browser
//! that finds it, beside the UDP discovery of the parent module.
//!
//! The DNS-SD type is [`SERVICE_TYPE`] (`_atomic-ws._tcp.local.`); the instance name is the
//! server's identity; TXT records carry `service` (the service name a client filters on),
//! `scheme` (`ws` or `wss`) and `path`. A browser collects the resolved instances of the
//! service for a bounded time and builds each URL from an IPv4 address the record gave,
//! the port and the path. The daemon (mdns-sd) runs on its own thread and needs no
//! runtime.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use core_pre::runtime::BoxFuture;
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

use super::{Announcement, Candidate};
use crate::endpoint::Discover;
use crate::error::AtomicError;

/// The DNS-SD service type of every atomic_ws server.
pub const SERVICE_TYPE: &str = "_atomic-ws._tcp.local.";

fn mdns_error(what: &str, error: impl std::fmt::Display) -> AtomicError {
    AtomicError::Discovery(format!("mDNS: {what}: {error}"))
}

/// A server advertised over mDNS until shut down or dropped.
pub struct MdnsAdvertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl std::fmt::Debug for MdnsAdvertisement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnsAdvertisement")
            .field("fullname", &self.fullname)
            .finish_non_exhaustive()
    }
}

impl MdnsAdvertisement {
    /// Advertises `announcement` (its URL's scheme, port and path) on every interface, with
    /// the addresses of the interfaces.
    pub fn start(announcement: &Announcement) -> Result<Self, AtomicError> {
        super::wire::check_fields(
            &announcement.service,
            &announcement.identity,
            &announcement.url,
        )
        .map_err(AtomicError::Discovery)?;
        let (scheme, port, path) = split_url(&announcement.url).ok_or_else(|| {
            AtomicError::Discovery(format!(
                "mDNS: cannot advertise {:?}: a ws:// or wss:// URL with a port is needed",
                announcement.url
            ))
        })?;
        if announcement.identity.is_empty() {
            return Err(AtomicError::Discovery(
                "mDNS: the identity names the instance: it cannot be empty".into(),
            ));
        }
        let daemon = ServiceDaemon::new().map_err(|e| mdns_error("no daemon", e))?;
        // A host name for the address records, from the identity (letters, digits, '-').
        let host: String = announcement
            .identity
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let properties = [
            ("service", announcement.service.as_str()),
            ("scheme", scheme),
            ("path", path),
        ];
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &announcement.identity,
            &format!("{host}.local."),
            "",
            port,
            &properties[..],
        )
        .map_err(|e| mdns_error("invalid service record", e))?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon
            .register(info)
            .map_err(|e| mdns_error("registration failed", e))?;
        Ok(MdnsAdvertisement { daemon, fullname })
    }

    /// The advertised instance's full DNS-SD name.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Withdraws the advertisement (a goodbye packet) and stops the daemon.
    pub fn shutdown(self) {
        // Dropping does the same; errors only mean the daemon is already gone.
        drop(self);
    }
}

impl Drop for MdnsAdvertisement {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

/// Splits `ws://host:port/path` into the scheme, the port and the path (default `/`).
fn split_url(url: &str) -> Option<(&'static str, u16, &str)> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("ws://") {
        ("ws", rest)
    } else {
        ("wss", url.strip_prefix("wss://")?)
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let port = authority.rsplit_once(':')?.1.parse().ok()?;
    Some((scheme, port, path))
}

/// Finds servers of one service over mDNS.
#[derive(Debug, Clone)]
pub struct MdnsBrowser {
    service: String,
    window: Duration,
}

impl MdnsBrowser {
    /// A browser for `service`, collecting for `window` (at most a minute).
    pub fn new(service: impl Into<String>, window: Duration) -> Self {
        MdnsBrowser {
            service: service.into(),
            window: window.min(Duration::from_secs(60)),
        }
    }

    /// The servers of the service that resolved within the window, each once (by
    /// instance), in the order they resolved. May be empty.
    pub async fn browse(&self) -> Result<Vec<Candidate>, AtomicError> {
        let daemon = ServiceDaemon::new().map_err(|e| mdns_error("no daemon", e))?;
        let events = daemon
            .browse(SERVICE_TYPE)
            .map_err(|e| mdns_error("browse failed", e))?;
        let deadline = tokio::time::Instant::now() + self.window;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        while let Ok(event) = tokio::time::timeout_at(deadline, events.recv_async()).await {
            let service = match event {
                Ok(ServiceEvent::ServiceResolved(service)) => service,
                Ok(_) => continue,
                // The daemon is gone.
                Err(_) => break,
            };
            if service.txt_properties.get_property_val_str("service") != Some(&self.service) {
                continue;
            }
            let Some(ip) = service.get_addresses_v4().into_iter().min() else {
                continue;
            };
            if !seen.insert(service.fullname.clone()) {
                continue;
            }
            let scheme = service
                .txt_properties
                .get_property_val_str("scheme")
                .filter(|s| *s == "wss")
                .unwrap_or("ws");
            let path = service
                .txt_properties
                .get_property_val_str("path")
                .filter(|p| p.starts_with('/'))
                .unwrap_or("/");
            let identity = service
                .fullname
                .strip_suffix(&format!(".{SERVICE_TYPE}"))
                .unwrap_or(&service.fullname)
                .to_owned();
            found.push(Candidate {
                service: self.service.clone(),
                identity,
                url: format!("{scheme}://{ip}:{}{path}", service.port),
                from: SocketAddr::new(IpAddr::V4(ip), service.port),
            });
        }
        let _ = daemon.stop_browse(SERVICE_TYPE);
        let _ = daemon.shutdown();
        Ok(found)
    }
}

impl Discover for MdnsBrowser {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<String>, AtomicError>> {
        Box::pin(async move {
            let found = self.browse().await?;
            if found.is_empty() {
                return Err(AtomicError::Discovery(format!(
                    "mDNS: no server of service {:?} resolved within {:?}",
                    self.service, self.window
                )));
            }
            Ok(found.into_iter().map(|c| c.url).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_port_and_path() {
        assert_eq!(split_url("ws://0.0.0.0:9300/"), Some(("ws", 9300, "/")));
        assert_eq!(split_url("wss://h:1/a/b"), Some(("wss", 1, "/a/b")));
        assert_eq!(split_url("ws://h:8080"), Some(("ws", 8080, "/")));
        assert_eq!(split_url("ws://h/"), None);
        assert_eq!(split_url("http://h:1/"), None);
        assert_eq!(split_url("ws://h:99999/"), None);
    }
}
