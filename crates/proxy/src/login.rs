//! One login attempt through the frontend, the same for every protocol:
//! look the account up, connect to its backend, replay, and sort the
//! backend's answer. The protocol modules say how to replay and how to
//! read the answer; this says what to do with it.

use crate::backend::{BackendConn, BackendError, ClientAddrs};
use crate::client::ClientConn;
use crate::credentials::Login;
use crate::frontend::{ClientInfo, Frontend, Protocol};
use crate::lookup::{Backend, BackendLookup};

/// How a backend answered a replayed login.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Logged in; `reply` goes to the client, then the splice.
    Accepted { reply: Vec<u8> },
    /// Wrong credentials; relayed and counted as a failure.
    Refused { reply: Vec<u8> },
    /// The account lives elsewhere now: the lookup's answer was stale.
    NotHostedHere { reply: Vec<u8> },
    /// Anything else (policy, a locked mailbox, a temporary failure):
    /// relayed as is, not counted.
    Other { reply: Vec<u8> },
}

/// What a protocol session does next.
pub(crate) enum Outcome {
    /// Write `reply` to the client and splice it with `backend`.
    Spliced { backend: BackendConn, reply: Vec<u8> },
    /// Write `reply`; a failed login, to be counted.
    Failed { reply: Vec<u8> },
    /// No backend hosts the account: answer exactly as a wrong password
    /// is answered, after as long a wait, so accounts cannot be probed.
    UnknownAccount,
    /// Write `reply` (the backend's own answer); not counted.
    Relayed { reply: Vec<u8> },
    /// The lookup or the backend failed: a temporary error to the client.
    Unavailable,
}

/// Protocol-specific parts of the replay.
pub(crate) enum Replay<'a> {
    /// The client's tag, reused so the backend's tagged answer can be
    /// relayed as is.
    Imap {
        tag: &'a str,
    },
    Pop3,
    /// The client's EHLO name, so the backend's `Received` header shows it.
    Submission {
        helo: &'a str,
    },
}

impl Replay<'_> {
    fn protocol(&self) -> Protocol {
        match self {
            Replay::Imap { .. } => Protocol::Imap,
            Replay::Pop3 => Protocol::Pop3,
            Replay::Submission { .. } => Protocol::Submission,
        }
    }
}

impl<L: BackendLookup> Frontend<L> {
    pub(crate) async fn log_in(&self, login: &Login, replay: Replay<'_>, info: &ClientInfo, tls: bool) -> Outcome {
        let protocol = replay.protocol();
        tracing::Span::current().record("account", tracing::field::display(&login.account));
        let from = ClientAddrs { client: info.peer, frontend: info.local, tls, proxied_by: info.proxied_by };
        // A second attempt only after a backend said the account moved:
        // the lookup, invalidated, may now name the new host (CM-10).
        for attempt in 0..2 {
            let addr = match self.lookup.backend(&login.account, protocol).await {
                Ok(Some(addr)) => addr,
                Ok(None) => {
                    tracing::debug!(target: "proxy", "no backend hosts the account");
                    return Outcome::UnknownAccount;
                }
                Err(e) => {
                    tracing::warn!(target: "proxy", error = %e, "backend lookup failed");
                    return Outcome::Unavailable;
                }
            };
            let verdict = match self.replay_at(addr, from, login, &replay).await {
                Ok(verdict) => verdict,
                Err(
                    e @ (BackendError::Connect { .. } | BackendError::Closed { .. } | BackendError::Timeout { .. }),
                ) if attempt == 0 => {
                    tracing::info!(target: "proxy", error = %e, "backend unreachable; asking the lookup again");
                    if self.lookup.unreachable(&login.account, addr).await {
                        continue;
                    }
                    tracing::warn!(target: "proxy", error = %e, "backend unavailable");
                    return Outcome::Unavailable;
                }
                Err(e) => {
                    // An operator should know a backend is down, but one
                    // line per login would flood: warn, not error.
                    tracing::warn!(target: "proxy", error = %e, "backend unavailable");
                    return Outcome::Unavailable;
                }
            };
            match verdict {
                (backend, Verdict::Accepted { reply }) => {
                    tracing::info!(target: "proxy", backend = %addr, "logged in; splicing");
                    return Outcome::Spliced { backend, reply };
                }
                (_, Verdict::Refused { reply }) => {
                    tracing::debug!(target: "proxy", backend = %addr, "backend refused the login");
                    return Outcome::Failed { reply };
                }
                (_, Verdict::NotHostedHere { reply }) => {
                    tracing::info!(target: "proxy", backend = %addr, attempt, "account not hosted on that backend");
                    self.lookup.invalidate(&login.account);
                    if attempt == 1 {
                        return Outcome::Relayed { reply };
                    }
                }
                (_, Verdict::Other { reply }) => return Outcome::Relayed { reply },
            }
        }
        Outcome::Unavailable
    }

    async fn replay_at(
        &self,
        addr: Backend,
        from: ClientAddrs,
        login: &Login,
        replay: &Replay<'_>,
    ) -> Result<(BackendConn, Verdict), BackendError> {
        let timeout = self.config.backend_timeout;
        let mut backend = match addr {
            Backend::There(to) => BackendConn::connect(to, self.config.source_address, from, timeout).await?,
            Backend::Here => {
                let local = self.local.as_deref().ok_or(BackendError::NoLocalSessions)?;
                BackendConn::local(local, replay.protocol(), from, timeout)
            }
        };
        let verdict = match replay {
            Replay::Imap { tag } => crate::imap::replay(&mut backend, tag, login).await?,
            Replay::Pop3 => crate::pop3::replay(&mut backend, login).await?,
            Replay::Submission { helo } => crate::submission::replay(&mut backend, helo, login).await?,
        };
        Ok((backend, verdict))
    }

    /// Counts a failed login; true when the connection must now close.
    pub(crate) fn too_many_failures(&self, failures: &mut usize) -> bool {
        *failures += 1;
        self.config.max_auth_failures != 0 && *failures >= self.config.max_auth_failures
    }
}

/// A protocol's words for how a login ended, short of the splice.
pub(crate) struct LoginWords {
    /// The answer to wrong credentials, also given for an unknown account.
    pub failed: Vec<u8>,
    /// The answer when the lookup or the backend failed.
    pub unavailable: Vec<u8>,
    /// Written before closing after too many failed logins.
    pub too_many: &'static [u8],
    /// IMAP answers the last failed LOGIN before its `* BYE`; POP3 and
    /// SMTP say only their goodbye.
    pub answer_before_bye: bool,
    /// The spliced session's idle limit.
    pub splice_idle: std::time::Duration,
}

impl<L: BackendLookup> Frontend<L> {
    /// Tries the login at the account's backend and ends the client's side
    /// of it: on success the backend's answer and the splice, otherwise
    /// the protocol's answer. Gives the client back when the session goes
    /// on before the login; `None` when it is over (spliced and finished,
    /// closed, or too many failures).
    pub(crate) async fn finish_login(
        &self,
        mut client: ClientConn,
        info: &ClientInfo,
        login: Option<Login>,
        replay: Replay<'_>,
        words: LoginWords,
        failures: &mut usize,
    ) -> Option<ClientConn> {
        let outcome = match &login {
            Some(login) => self.log_in(login, replay, info, client.tls).await,
            None => Outcome::UnknownAccount,
        };
        let (reply, failed) = match outcome {
            Outcome::Spliced { backend, reply } => {
                client.write(&reply).await.ok()?;
                let (io, early) = client.into_parts();
                crate::splice::splice(io, early, backend, words.splice_idle).await;
                return None;
            }
            Outcome::Failed { reply } => (reply, true),
            Outcome::UnknownAccount => {
                tokio::time::sleep(self.config.auth_failure_delay).await;
                (words.failed, true)
            }
            Outcome::Relayed { reply } => (reply, false),
            Outcome::Unavailable => (words.unavailable, false),
        };
        if failed && self.too_many_failures(failures) {
            if words.answer_before_bye {
                client.write(&reply).await.ok()?;
            }
            let _ = client.write(words.too_many).await;
            return None;
        }
        client.write(&reply).await.ok()?;
        Some(client)
    }
}
