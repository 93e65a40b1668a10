//! Argon2id password hashes, computed off the async workers; shared by
//! the embedded and LDAP back-ends so both store the same PHC strings.
//!
//! One hash or verify costs tens of milliseconds of CPU and about 19 MiB of
//! memory (argon2's default parameters), so every computation runs in
//! `spawn_blocking` and a semaphore bounds how many run at once: a flood of
//! logins queues up instead of exhausting memory.

use std::sync::{Arc, LazyLock};

use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash};
use tokio::sync::Semaphore;

use crate::{DirectoryError, Result};

/// A hash of a password nobody knows, made with the same parameters as
/// real hashes, so that checking a password for an unknown account costs
/// what checking a wrong one costs. Computed once per process, on first use.
static DUMMY_HASH: LazyLock<Result<String, password_hash::Error>> = LazyLock::new(|| {
    let password: [u8; 32] = rand::random();
    Argon2::default().hash_password(&password).map(|hash| hash.to_string())
});

/// Runs argon2 on the blocking pool, a bounded number at a time.
pub(crate) struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(max_concurrent: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(max_concurrent.max(1))) }
    }

    /// A fresh argon2id PHC string for `password`, with a random salt.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move || hash_blocking(password.as_bytes())).await
    }

    /// Whether `password` matches `phc_hash`; with `None` (unknown account)
    /// the work is done against a dummy hash and the answer is `false`.
    pub async fn verify(&self, password: &str, phc_hash: Option<String>) -> Result<bool> {
        let password = password.to_owned();
        self.run(move || match phc_hash {
            Some(phc_hash) => verify_blocking(password.as_bytes(), &phc_hash),
            None => {
                let dummy = DUMMY_HASH.as_ref().map_err(|error| hash_failure(*error))?;
                verify_blocking(password.as_bytes(), dummy)?;
                Ok(false)
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| DirectoryError::Backend("password hashing stopped".into()))?;
        // The permit moves into the task: if the caller is cancelled, the
        // computation still counts against the limit until it ends.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|error| DirectoryError::Backend(format!("password hashing task failed: {error}")))?
    }
}

fn hash_failure(error: password_hash::Error) -> DirectoryError {
    DirectoryError::Backend(format!("password hashing: {error}"))
}

pub(crate) fn hash_blocking(password: &[u8]) -> Result<String> {
    Argon2::default().hash_password(password).map(|hash| hash.to_string()).map_err(hash_failure)
}

/// A mismatch is `Ok(false)`; a hash that does not parse is a back-end
/// error, since it came from the directory file.
pub(crate) fn verify_blocking(password: &[u8], phc_hash: &str) -> Result<bool> {
    // The parameters come from the PHC string, not from this instance.
    match Argon2::default().verify_password(password, phc_hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(error) => Err(DirectoryError::Backend(format!("stored password hash: {error}"))),
    }
}

#[cfg(test)]
pub(crate) fn dummy_hash() -> &'static str {
    DUMMY_HASH.as_deref().expect("dummy hash")
}

#[cfg(test)]
mod tests;
