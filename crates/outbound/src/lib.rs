//! Remote delivery: the queue's [`Transport`] for recipients of other
//! domains. `routing` says where a domain's mail goes (static routes,
//! relay hosts, "forward to", MX), `smtp-client` carries it there over a
//! per-destination connection pool; this crate decides, per recipient,
//! what the queue records: delivered, failed for good (bounced) or
//! deferred (retried).
//!
//! The recipients of one domain go in one transaction. Destinations are
//! tried in the router's order (RFC 5321 §5.1): a destination that cannot
//! be reached or answers with a temporary error is passed over for the
//! next; the first one that takes the transaction decides each
//! recipient's fate, and a permanent refusal of the whole transaction
//! fails it without asking the next MX.
#![forbid(unsafe_code)]

mod myself;

use myself::Myself;
use queue::{Job, Outcome, Transport};
use routing::Router;
use smtp_client::{Envelope, Pool, RcptResult, SmtpError};
use std::collections::BTreeMap;
use std::net::SocketAddr;

pub struct RemoteDelivery {
    router: Router,
    pool: Pool,
    myself: Myself,
}

impl RemoteDelivery {
    pub fn new(router: Router, pool: Pool) -> RemoteDelivery {
        RemoteDelivery { router, pool, myself: Myself::default() }
    }

    /// This server's own SMTP (MX) listeners: a destination among them is
    /// this server, and mail sent there would come straight back.
    pub fn with_own_listeners(mut self, listeners: &[SocketAddr]) -> RemoteDelivery {
        self.myself = Myself::new(listeners);
        self
    }

    /// One transaction for `addresses` (all of `domain`), trying each of
    /// its destinations in turn.
    async fn deliver_domain(&self, job: &Job, domain: &str, addresses: Vec<String>) -> Vec<Outcome> {
        let count = addresses.len();
        let destinations = match self.router.resolve(domain).await {
            Ok(destinations) => destinations,
            Err(error) => {
                tracing::info!(target: "outbound", id = %job.id, domain, %error, "no route");
                let reason = error.to_string();
                return vec![if error.temporary { Outcome::Deferred(reason) } else { Outcome::Failed(reason) }; count];
            }
        };
        let Some(destinations) = self.myself.discard_from(destinations) else {
            // RFC 5321 §5.1: this server is the best place for the domain's
            // mail, yet the domain is not ours: a configuration loop.
            tracing::warn!(target: "outbound", id = %job.id, domain, "mail loops back to myself");
            return vec![Outcome::Failed(format!("5.4.6 mail for {domain} loops back to myself")); count];
        };
        let envelope = Envelope {
            mail_from: job.envelope.mail_from.clone(),
            recipients: addresses,
            smtputf8: job.envelope.smtputf8,
            body_8bit: !job.body.is_ascii(),
        };
        let mut last_error: Option<SmtpError> = None;
        for destination in destinations {
            let server = smtp_client::Destination { name: destination.name, addr: destination.addr };
            match self.pool.send(&server, &envelope, &job.body).await {
                Ok(results) => {
                    tracing::info!(
                        target: "outbound",
                        id = %job.id,
                        %server,
                        accepted = results.iter().filter(|r| r.is_accepted()).count(),
                        refused = results.iter().filter(|r| !r.is_accepted()).count(),
                        "transaction done"
                    );
                    return results.into_iter().map(outcome).collect();
                }
                Err(error) if error.is_permanent() => {
                    tracing::info!(target: "outbound", id = %job.id, %server, %error, "refused for good");
                    return vec![Outcome::Failed(error.to_string()); count];
                }
                Err(error) => {
                    tracing::info!(target: "outbound", id = %job.id, %server, %error, "trying the next destination");
                    last_error = Some(error);
                }
            }
        }
        let reason = last_error.map_or_else(|| format!("4.4.4 no destination for {domain}"), |e| e.to_string());
        vec![Outcome::Deferred(reason); count]
    }
}

fn outcome(result: RcptResult) -> Outcome {
    match result {
        RcptResult::Accepted => Outcome::Delivered,
        RcptResult::Rejected(error) if error.is_permanent() => Outcome::Failed(error.to_string()),
        RcptResult::Rejected(error) => Outcome::Deferred(error.to_string()),
    }
}

/// The domain of an address, lowercased: the part after the last `@`.
fn domain_of(address: &str) -> Option<String> {
    address.rsplit_once('@').map(|(_, domain)| domain.to_ascii_lowercase()).filter(|d| !d.is_empty())
}

#[async_trait::async_trait]
impl Transport for RemoteDelivery {
    async fn deliver(&self, job: &Job) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; job.recipients.len()];
        let mut by_domain: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (slot, &position) in job.recipients.iter().enumerate() {
            match job.envelope.recipients.get(position).and_then(|a| domain_of(a)) {
                Some(domain) => by_domain.entry(domain).or_default().push(slot),
                None => outcomes[slot] = Some(Outcome::Failed("5.1.3 bad recipient address".into())),
            }
        }
        // Domains in parallel: one slow domain does not hold up another.
        let deliveries = by_domain.into_iter().map(|(domain, slots)| {
            let addresses = slots.iter().map(|&slot| job.envelope.recipients[job.recipients[slot]].clone()).collect();
            async move { (slots, self.deliver_domain(job, &domain, addresses).await) }
        });
        for (slots, results) in futures_util::future::join_all(deliveries).await {
            for (slot, result) in slots.into_iter().zip(results) {
                outcomes[slot] = Some(result);
            }
        }
        outcomes.into_iter().map(|o| o.unwrap_or_else(|| Outcome::Deferred("4.3.0 no outcome".into()))).collect()
    }
}

#[cfg(test)]
mod tests;
