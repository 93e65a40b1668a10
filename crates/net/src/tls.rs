//! The server's TLS identity: a configured certificate, or a self-signed
//! one made on first start and kept beside the data so that clients can
//! pin it across restarts.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Where the certificate chain and key live (PEM files).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no usable {what} in {path}")]
    Pem { what: &'static str, path: PathBuf },
    #[error("making a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("tls configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsConfig {
    /// Loads the certificate and key; when neither file exists, makes a
    /// self-signed certificate for `hostnames` and writes both (key 0600).
    pub fn load_or_create(&self, hostnames: &[String]) -> Result<TlsAcceptor, TlsError> {
        if !self.cert_path.exists() && !self.key_path.exists() {
            self.create_self_signed(hostnames)?;
        }
        self.load()
    }

    fn load(&self) -> Result<TlsAcceptor, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert_path)
            .map_err(|_| TlsError::Pem { what: "certificate", path: self.cert_path.clone() })?
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::Pem { what: "certificate", path: self.cert_path.clone() })?;
        if certs.is_empty() {
            return Err(TlsError::Pem { what: "certificate", path: self.cert_path.clone() });
        }
        let key = PrivateKeyDer::from_pem_file(&self.key_path)
            .map_err(|_| TlsError::Pem { what: "private key", path: self.key_path.clone() })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    fn create_self_signed(&self, hostnames: &[String]) -> Result<(), TlsError> {
        let certified = rcgen::generate_simple_self_signed(hostnames.to_vec())?;
        write_file(&self.cert_path, certified.cert.pem().as_bytes(), 0o644)?;
        write_file(&self.key_path, certified.signing_key.serialize_pem().as_bytes(), 0o600)?;
        Ok(())
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}
