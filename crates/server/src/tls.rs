//! TLS: a rustls acceptor from a PEM certificate chain and key, and [`MaybeTls`], the
//! socket type a session runs over whether TLS is on or not.
//!
//! The PEM parsing is rustls' own (`pki-types`), with the ring provider the client side
//! already uses, so the server adds no TLS dependency of its own. A certificate or key that
//! cannot be used is a [`ServerError::Tls`] at build time, never a failure at the first
//! connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::ServerError;

/// A TLS acceptor for `cert_pem` (the chain, leaf first) and `key_pem` (PKCS#8, PKCS#1 or
/// SEC1).
pub(crate) fn acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, ServerError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("the certificate PEM is not readable ({e}); give the PEM text of the certificate chain")))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(
            "the certificate PEM has no CERTIFICATE block; give the PEM text of the certificate chain, leaf first".into(),
        ));
    }
    // The key's bytes never appear in an error: only what is wrong with its shape.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        ServerError::Tls(
            "the private key PEM has no usable key (PKCS#8, PKCS#1 or SEC1); give the key that matches the certificate".into(),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(format!("no usable TLS protocol version: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ServerError::Tls(format!(
                "the certificate and key cannot be used together ({e}); check that the key belongs to the certificate"
            ))
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TCP socket, with or without TLS.
pub(crate) enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(tcp) => tcp.is_write_vectored(),
            MaybeTls::Tls(tls) => tls.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pem_is_a_tls_error_that_names_the_part() {
        let Err(ServerError::Tls(message)) = acceptor(b"not pem", b"not pem") else {
            panic!("expected a TLS error");
        };
        assert!(message.contains("certificate"), "{message}");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let Err(ServerError::Tls(message)) = acceptor(cert.cert.pem().as_bytes(), b"nothing")
        else {
            panic!("expected a TLS error");
        };
        assert!(message.contains("private key"), "{message}");
        acceptor(
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
    }
}
