//! The key layout under `/rookery/<cluster>/`.

use crate::CoordError;

#[derive(Clone, Debug)]
pub(crate) struct Keys {
    /// `/rookery/<cluster>/`
    root: String,
}

impl Keys {
    pub(crate) fn new(cluster: &str) -> Keys {
        Keys { root: format!("/rookery/{cluster}/") }
    }

    pub(crate) fn members(&self) -> String {
        format!("{}members/", self.root)
    }

    pub(crate) fn member(&self, member: &str) -> String {
        format!("{}members/{member}", self.root)
    }

    pub(crate) fn accounts(&self) -> String {
        format!("{}accounts/", self.root)
    }

    /// The key of an account; the name must be non-empty (the caller
    /// passes the lower-case `local@domain` form).
    pub(crate) fn account(&self, account: &str) -> Result<String, CoordError> {
        if account.is_empty() {
            return Err(CoordError::Invalid("empty account name".into()));
        }
        Ok(format!("{}accounts/{account}", self.root))
    }

    /// The election's name: etcd puts the candidates' keys at
    /// `<name>/<lease id in hex>`, i.e. under `controller/`.
    pub(crate) fn election(&self) -> String {
        format!("{}controller", self.root)
    }

    pub(crate) fn election_prefix(&self) -> String {
        format!("{}controller/", self.root)
    }

    /// The last path element of a key under `prefix`, if it is one.
    pub(crate) fn name_under<'k>(prefix: &str, key: &'k [u8]) -> Option<&'k str> {
        std::str::from_utf8(key).ok()?.strip_prefix(prefix).filter(|name| !name.is_empty())
    }
}
