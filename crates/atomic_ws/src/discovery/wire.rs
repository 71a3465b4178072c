//! The discovery datagrams: pure encoding and decoding, no sockets.
//!
//! ```text
//! probe (exactly 256 bytes):
//!   "AWSD" | version 1 | kind 1 | nonce (u64 BE) | service length (u8) | service (UTF-8)
//!   | zero padding to 256 bytes
//! reply:
//!   "AWSD" | version 1 | kind 2 | nonce (u64 BE) | service length (u8) | service
//!   | identity length (u8) | identity | URL length (u16 BE) | URL (UTF-8)
//! ```
//!
//! The probe is padded so a reply (at most 722 bytes) is never much larger than the probe
//! that asked for it: a forged source address cannot turn a responder into an amplifier.
//! Anything else (another magic, version or kind, a length past the end, invalid UTF-8,
//! bytes after the last field, a non-zero pad) is rejected with a reason.

/// The first four bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"AWSD";
/// The format version.
pub const VERSION: u8 = 1;
/// A probe's exact length.
pub const PROBE_LEN: usize = 256;
/// The longest service name, in bytes.
pub const MAX_SERVICE_LEN: usize = 64;
/// The longest identity, in bytes.
pub const MAX_IDENTITY_LEN: usize = 128;
/// The longest URL, in bytes.
pub const MAX_URL_LEN: usize = 512;
/// The largest datagram either side reads.
pub const MAX_DATAGRAM: usize = 1024;

const KIND_PROBE: u8 = 1;
const KIND_REPLY: u8 = 2;
const HEADER_LEN: usize = 4 + 1 + 1 + 8;

/// A client's question: is a server of `service` there?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Chosen at random by the prober; the reply carries it back.
    pub nonce: u64,
    /// The service name asked for.
    pub service: String,
}

/// A server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The probe's nonce.
    pub nonce: u64,
    /// The server's service name.
    pub service: String,
    /// Which server this is (a name unique among the servers of the service).
    pub identity: String,
    /// Where to connect; a host of `0.0.0.0` means "the address this reply came from".
    pub url: String,
}

/// Checks the lengths of a service name, identity and URL against the format's limits.
pub fn check_fields(service: &str, identity: &str, url: &str) -> Result<(), String> {
    if service.is_empty() || service.len() > MAX_SERVICE_LEN {
        return Err(format!(
            "the service name must be 1 to {MAX_SERVICE_LEN} bytes, not {}",
            service.len()
        ));
    }
    if identity.len() > MAX_IDENTITY_LEN {
        return Err(format!(
            "the identity must be at most {MAX_IDENTITY_LEN} bytes, not {}",
            identity.len()
        ));
    }
    if url.is_empty() || url.len() > MAX_URL_LEN {
        return Err(format!(
            "the URL must be 1 to {MAX_URL_LEN} bytes, not {}",
            url.len()
        ));
    }
    Ok(())
}

fn header(kind: u8, nonce: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(PROBE_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&nonce.to_be_bytes());
    out
}

impl Probe {
    /// The datagram (fails when the service name is empty or too long).
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        check_fields(&self.service, "", "-")?;
        let mut out = header(KIND_PROBE, self.nonce);
        push_short(&mut out, &self.service);
        out.resize(PROBE_LEN, 0);
        Ok(out)
    }

    /// Reads a probe.
    pub fn decode(datagram: &[u8]) -> Result<Probe, String> {
        if datagram.len() != PROBE_LEN {
            return Err(format!(
                "a probe is {PROBE_LEN} bytes, this datagram {}",
                datagram.len()
            ));
        }
        let mut reader = Reader::after_header(datagram, KIND_PROBE)?;
        let service = reader.short_string("service name", MAX_SERVICE_LEN)?;
        if reader.rest().iter().any(|&b| b != 0) {
            return Err("the probe's padding is not zero".into());
        }
        Ok(Probe {
            nonce: reader.nonce,
            service,
        })
    }
}

impl Reply {
    /// The datagram (fails when a field is out of its limits).
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        check_fields(&self.service, &self.identity, &self.url)?;
        let mut out = header(KIND_REPLY, self.nonce);
        push_short(&mut out, &self.service);
        push_short(&mut out, &self.identity);
        // Checked above: at most MAX_URL_LEN (512) bytes, so it fits a u16.
        out.extend_from_slice(&(self.url.len() as u16).to_be_bytes());
        out.extend_from_slice(self.url.as_bytes());
        Ok(out)
    }

    /// Reads a reply.
    pub fn decode(datagram: &[u8]) -> Result<Reply, String> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(format!("{} bytes is too long for a reply", datagram.len()));
        }
        let mut reader = Reader::after_header(datagram, KIND_REPLY)?;
        let service = reader.short_string("service name", MAX_SERVICE_LEN)?;
        let identity = reader.short_string("identity", MAX_IDENTITY_LEN)?;
        let url_len = usize::from(u16::from_be_bytes([
            reader.byte("URL")?,
            reader.byte("URL")?,
        ]));
        if url_len == 0 || url_len > MAX_URL_LEN {
            return Err(format!(
                "the URL length {url_len} is out of 1..={MAX_URL_LEN}"
            ));
        }
        let url = reader.string("URL", url_len)?;
        if !reader.rest().is_empty() {
            return Err(format!(
                "{} bytes after the reply's last field",
                reader.rest().len()
            ));
        }
        Ok(Reply {
            nonce: reader.nonce,
            service,
            identity,
            url,
        })
    }
}

/// Appends a string of at most 255 bytes (callers check the limits) with its length.
fn push_short(out: &mut Vec<u8>, text: &str) {
    // Every caller checked the length against a limit of at most 128 bytes.
    out.push(text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    nonce: u64,
}

impl<'a> Reader<'a> {
    fn after_header(bytes: &'a [u8], kind: u8) -> Result<Self, String> {
        if bytes.len() < HEADER_LEN {
            return Err(format!("{} bytes is shorter than the header", bytes.len()));
        }
        if bytes[..4] != MAGIC {
            return Err("not a discovery datagram (wrong magic)".into());
        }
        if bytes[4] != VERSION {
            return Err(format!(
                "discovery version {} (this side speaks {VERSION})",
                bytes[4]
            ));
        }
        if bytes[5] != kind {
            return Err(format!("kind {} where {kind} was expected", bytes[5]));
        }
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&bytes[6..HEADER_LEN]);
        Ok(Reader {
            bytes,
            at: HEADER_LEN,
            nonce: u64::from_be_bytes(nonce),
        })
    }

    fn byte(&mut self, field: &str) -> Result<u8, String> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| format!("the datagram ends before the {field}"))?;
        self.at += 1;
        Ok(byte)
    }

    fn string(&mut self, field: &str, len: usize) -> Result<String, String> {
        let end = self.at + len;
        let raw = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| format!("the {field} runs past the end of the datagram"))?;
        self.at = end;
        String::from_utf8(raw.to_vec()).map_err(|_| format!("the {field} is not UTF-8"))
    }

    fn short_string(&mut self, field: &str, max: usize) -> Result<String, String> {
        let len = usize::from(self.byte(field)?);
        if len > max {
            return Err(format!("the {field} is {len} bytes, more than {max}"));
        }
        self.string(field, len)
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply() -> Reply {
        Reply {
            nonce: 0x0102_0304_0506_0708,
            service: "kiosk".into(),
            identity: "server-1".into(),
            url: "ws://0.0.0.0:9300/".into(),
        }
    }

    #[test]
    fn probes_and_replies_round_trip() {
        let probe = Probe {
            nonce: 42,
            service: "kiosk".into(),
        };
        let bytes = probe.encode().unwrap();
        assert_eq!(bytes.len(), PROBE_LEN);
        assert_eq!(&bytes[..6], b"AWSD\x01\x01");
        assert_eq!(Probe::decode(&bytes).unwrap(), probe);
        let bytes = reply().encode().unwrap();
        assert_eq!(Reply::decode(&bytes).unwrap(), reply());
        // The largest reply stays within three probes.
        let big = Reply {
            service: "s".repeat(MAX_SERVICE_LEN),
            identity: "i".repeat(MAX_IDENTITY_LEN),
            url: "u".repeat(MAX_URL_LEN),
            ..reply()
        };
        let len = big.encode().unwrap().len();
        assert!(len <= 3 * PROBE_LEN, "{len}");
    }

    #[test]
    fn malformed_datagrams_are_rejected_with_a_reason() {
        let good = reply().encode().unwrap();
        for cut in 0..good.len() {
            assert!(Reply::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(Reply::decode(&extra).unwrap_err().contains("after"));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(Reply::decode(&magic).unwrap_err().contains("magic"));
        let mut version = good.clone();
        version[4] = 9;
        assert!(Reply::decode(&version).unwrap_err().contains("version 9"));
        // A probe is not a reply, and the other way round.
        let probe = Probe {
            nonce: 1,
            service: "kiosk".into(),
        }
        .encode()
        .unwrap();
        assert!(Reply::decode(&probe).is_err());
        assert!(Probe::decode(&good).is_err());
        let mut padded = probe.clone();
        padded[PROBE_LEN - 1] = 1;
        assert!(Probe::decode(&padded).unwrap_err().contains("padding"));
        let mut utf8 = good.clone();
        utf8[HEADER_LEN + 1] = 0xff;
        assert!(Reply::decode(&utf8).unwrap_err().contains("UTF-8"));
        assert!(
            Probe {
                nonce: 1,
                service: String::new()
            }
            .encode()
            .is_err()
        );
    }
}
