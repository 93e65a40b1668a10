//! The client side of STARTTLS: trust anchors, and the two rustls
//! configurations the policies need, one that verifies the certificate
//! against the destination's name and one that takes any certificate
//! (opportunistic TLS, RFC 3207 practice: an unverified channel is still
//! better than plaintext, and refusing it would only send the mail in
//! plaintext instead).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio_rustls::TlsConnector;

/// Trust anchors and the rustls configurations built from them. Cloning
/// shares the configurations, and with them the TLS session cache.
#[derive(Clone)]
pub struct TlsSettings {
    inner: Arc<Inner>,
}

struct Inner {
    roots: Arc<RootCertStore>,
    // Built on first use: building can fail (in theory), and a config
    // that never does STARTTLS never needs them.
    verifying: OnceLock<Arc<rustls::ClientConfig>>,
    opportunistic: OnceLock<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings").field("trust_anchors", &self.inner.roots.len()).finish()
    }
}

impl TlsSettings {
    /// Mozilla's root certificates, as the webpki-roots crate ships them.
    pub fn webpki_roots() -> TlsSettings {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        TlsSettings::with_roots(roots)
    }

    /// Exactly these trust anchors (a private CA, or a test's).
    pub fn with_roots(roots: RootCertStore) -> TlsSettings {
        TlsSettings {
            inner: Arc::new(Inner {
                roots: Arc::new(roots),
                verifying: OnceLock::new(),
                opportunistic: OnceLock::new(),
            }),
        }
    }

    /// A connector that checks the certificate (`verify`) or takes any.
    pub(crate) fn connector(&self, verify: bool) -> Result<TlsConnector, rustls::Error> {
        let slot = if verify { &self.inner.verifying } else { &self.inner.opportunistic };
        if let Some(config) = slot.get() {
            return Ok(TlsConnector::from(config.clone()));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder =
            rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let config = if verify {
            builder.with_root_certificates(self.inner.roots.clone()).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
                .with_no_client_auth()
        };
        // Another task may have won the race; either config will do.
        let config = slot.get_or_init(|| Arc::new(config)).clone();
        Ok(TlsConnector::from(config))
    }
}

/// The name to send in SNI and check the certificate against: the MX
/// name, or when it is not a usable name (only acceptable when the
/// certificate is not checked) the address.
pub(crate) fn server_name(name: &str, addr: SocketAddr, verify: bool) -> Result<ServerName<'static>, String> {
    match ServerName::try_from(name.to_owned()) {
        Ok(server_name) => Ok(server_name),
        Err(_) if !verify => Ok(ServerName::IpAddress(addr.ip().into())),
        Err(_) => Err(format!("{name:?} is not a valid TLS server name")),
    }
}

/// Accepts any certificate, but still checks the handshake signatures,
/// so the channel is at least bound to the certificate's key.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
