//! Where the platform's servers are: the documented region list, demo and real.
//!
//! The client only ever contacts the URLs you give it and the hosts listed here (no public
//! fallbacks, no IP-lookup services), which matters on closed networks.

/// One platform region (see [`platform_regions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Region {
    /// A short name.
    pub name: &'static str,
    /// The host (under `po.market`).
    pub host: &'static str,
    /// Whether the host serves demo accounts (otherwise real accounts).
    pub demo: bool,
}

impl Region {
    /// The WebSocket URL of this region.
    pub fn url(&self) -> String {
        format!("wss://{}/socket.io/?EIO=4&transport=websocket", self.host)
    }
}

/// The demo server.
pub(crate) const DEMO: Region = Region {
    name: "demo",
    host: "demo-api-eu.po.market",
    demo: true,
};

/// Real-account regions, in the order they are tried (current hosts first, then the ones
/// older lists had).
pub(crate) const REAL: &[Region] = &[
    Region {
        name: "eu",
        host: "api-eu.po.market",
        demo: false,
    },
    Region {
        name: "msk",
        host: "api-msk.po.market",
        demo: false,
    },
    Region {
        name: "spb",
        host: "api-spb.po.market",
        demo: false,
    },
    Region {
        name: "us-south",
        host: "api-us-south.po.market",
        demo: false,
    },
    Region {
        name: "sc",
        host: "api-sc.po.market",
        demo: false,
    },
    Region {
        name: "hk",
        host: "api-hk.po.market",
        demo: false,
    },
    Region {
        name: "fr",
        host: "api-fr.po.market",
        demo: false,
    },
    Region {
        name: "fr2",
        host: "api-fr2.po.market",
        demo: false,
    },
    Region {
        name: "us-north",
        host: "api-us-north.po.market",
        demo: false,
    },
    Region {
        name: "us2",
        host: "api-us2.po.market",
        demo: false,
    },
    Region {
        name: "us3",
        host: "api-us3.po.market",
        demo: false,
    },
    Region {
        name: "us4",
        host: "api-us4.po.market",
        demo: false,
    },
    Region {
        name: "l",
        host: "api-l.po.market",
        demo: false,
    },
    Region {
        name: "in",
        host: "api-in.po.market",
        demo: false,
    },
    Region {
        name: "fin",
        host: "api-fin.po.market",
        demo: false,
    },
    Region {
        name: "c",
        host: "api-c.po.market",
        demo: false,
    },
    Region {
        name: "asia",
        host: "api-asia.po.market",
        demo: false,
    },
];

/// The documented regions for an account type, in the order the client tries them: the
/// demo server for a demo account, every real-account region otherwise. For tools that
/// check each one (the CLI's `doctor`).
///
/// ```
/// let real = binary_options_tools::platform_regions(false);
/// assert!(real.len() > 1);
/// assert!(real[0].url().starts_with("wss://"));
/// assert_eq!(binary_options_tools::platform_regions(true).len(), 1);
/// ```
pub fn platform_regions(demo: bool) -> Vec<Region> {
    if demo { vec![DEMO] } else { REAL.to_vec() }
}

/// The URLs to try for an account: `user` first (in order), then the documented regions
/// for the account type unless `user_only`.
pub(crate) fn urls_for(demo: bool, user: &[String], user_only: bool) -> Vec<String> {
    let mut urls: Vec<String> = user.to_vec();
    if !user_only {
        if demo {
            urls.push(DEMO.url());
        } else {
            urls.extend(REAL.iter().map(Region::url));
        }
    }
    urls.dedup();
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_urls_come_first_and_account_type_picks_the_list() {
        let user = vec!["ws://127.0.0.1:9/socket.io/?EIO=4&transport=websocket".to_owned()];
        let demo = urls_for(true, &user, false);
        assert_eq!(demo[0], user[0]);
        assert_eq!(
            demo[1],
            "wss://demo-api-eu.po.market/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(demo.len(), 2);
        let real = urls_for(false, &[], false);
        assert_eq!(real.len(), REAL.len());
        assert!(real[0].contains("api-eu"));
        assert_eq!(urls_for(false, &user, true), user);
    }
}
