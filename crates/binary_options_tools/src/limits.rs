//! [`FrameLimits`]: the bounds the decoder and the reassembler enforce on untrusted input.
//!
//! A peer decides how many binary attachments a packet announces and how large frames are;
//! without a bound, one hostile or broken frame could make a client buffer without end.
//! The defaults follow stock Socket.IO servers (10 attachments, as socket.io-parser ≥ 4.2.6)
//! and leave room for the platform's largest real messages (the asset list, long histories).

/// Bounds on what a single packet may contain.
///
/// ```
/// use binary_options_tools::FrameLimits;
/// let limits = FrameLimits::default().with_max_attachments(2);
/// assert_eq!(limits.max_attachments, 2);
/// assert_eq!(limits.max_payload_bytes, FrameLimits::DEFAULT_MAX_PAYLOAD_BYTES);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The largest `n` accepted in a `45<n>-` header.
    pub max_attachments: usize,
    /// The largest text frame, and the largest total (header + attachments) of one packet.
    pub max_payload_bytes: usize,
}

impl FrameLimits {
    /// Default for [`FrameLimits::max_attachments`].
    pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;
    /// Default for [`FrameLimits::max_payload_bytes`]: 16 MiB.
    pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

    /// Replaces the attachment limit.
    pub fn with_max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Replaces the payload size limit.
    pub fn with_max_payload_bytes(mut self, max: usize) -> Self {
        self.max_payload_bytes = max;
        self
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_attachments: Self::DEFAULT_MAX_ATTACHMENTS,
            max_payload_bytes: Self::DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }
}
