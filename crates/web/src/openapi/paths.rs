//! The operations of the document, one entry per route of the router
//! (`tests.rs` holds the two to each other).

use super::{WithErrors, action_param, array, created, no_content, ok, op, path_param, query_param, route, schema_ref};
use serde_json::{Value, json};

/// Every operation: path, then (method, operation object).
pub(super) fn operations() -> Vec<(String, Vec<(&'static str, Value)>)> {
    let domain = path_param("domain", "A domain name, e.g. `example.com`.");
    let account = path_param("account", "An account: `name@domain`, or a bare name in the main domain.");
    let alias = path_param("alias", "An alias address: `name@domain`, or a bare name in the main domain.");
    let queue_id = path_param("id", "A queued message's id: 16 hexadecimal digits, as `GET /api/v1/queue` lists it.");
    vec![
        route(
            "/api/v1/domains",
            vec![
                (
                    "get",
                    op(
                        "domains",
                        "List the domains with the member each is local to.",
                        &[],
                        None,
                        ok(array("DomainRecord")),
                    ),
                ),
                (
                    "post",
                    op(
                        "domains",
                        "Add a domain (shared: a Shared Domain of the whole cluster).",
                        &[],
                        Some("NewDomain"),
                        created(None),
                    )
                    .with_errors(&["400", "409"]),
                ),
            ],
        ),
        route(
            "/api/v1/domains/{domain}",
            vec![
                (
                    "get",
                    op(
                        "domains",
                        "Show a domain: who serves it, how many accounts and aliases it has.",
                        &[&domain],
                        None,
                        ok(schema_ref("DomainDetail")),
                    )
                    .with_errors(&["400", "404"]),
                ),
                (
                    "delete",
                    op(
                        "domains",
                        "Remove a domain that has no accounts or aliases left.",
                        &[&domain],
                        None,
                        no_content(),
                    )
                    .with_errors(&["400", "404", "409"]),
                ),
            ],
        ),
        route(
            "/api/v1/domains/{domain}/accounts",
            vec![(
                "get",
                op(
                    "accounts",
                    "List a domain's accounts; with usage=true (single server) with their storage use.",
                    &[&domain, &query_param("usage", "boolean", "Add used_bytes and messages to each account.")],
                    None,
                    ok(array("AccountSummary")),
                )
                .with_errors(&["400", "404"]),
            )],
        ),
        route(
            "/api/v1/accounts",
            vec![(
                "post",
                op(
                    "accounts",
                    "Add an account (in a cluster on the backend `server` names).",
                    &[],
                    Some("NewAccount"),
                    created(Some(schema_ref("AccountRecord"))),
                )
                .with_errors(&["400", "404", "409", "503"]),
            )],
        ),
        route(
            "/api/v1/accounts/{account}",
            vec![
                (
                    "get",
                    op(
                        "accounts",
                        "Show an account with its quota, usage and aliases.",
                        &[&account],
                        None,
                        ok(schema_ref("AccountDetail")),
                    )
                    .with_errors(&["400", "404", "503"]),
                ),
                (
                    "delete",
                    op("accounts", "Remove an account and all its mail.", &[&account], None, no_content())
                        .with_errors(&["400", "404", "409", "503"]),
                ),
            ],
        ),
        route(
            "/api/v1/accounts/{account}/password",
            vec![(
                "put",
                op("accounts", "Set an account's password.", &[&account], Some("NewPassword"), no_content())
                    .with_errors(&["400", "404", "503"]),
            )],
        ),
        route(
            "/api/v1/accounts/{account}/quota",
            vec![
                (
                    "get",
                    op(
                        "quotas",
                        "An account's storage limit and what it uses.",
                        &[&account],
                        None,
                        ok(schema_ref("AccountQuota")),
                    )
                    .with_errors(&["400", "404", "503"]),
                ),
                (
                    "put",
                    op(
                        "quotas",
                        "Set an account's storage limit (null: unlimited).",
                        &[&account],
                        Some("NewQuota"),
                        no_content(),
                    )
                    .with_errors(&["400", "404", "503"]),
                ),
            ],
        ),
        route(
            "/api/v1/aliases",
            vec![
                (
                    "get",
                    op(
                        "aliases",
                        "List the aliases, of every domain or of one.",
                        &[&query_param("domain", "string", "Only this domain's aliases.")],
                        None,
                        ok(array("AliasRecord")),
                    )
                    .with_errors(&["400"]),
                ),
                (
                    "post",
                    op("aliases", "Make mail to an alias go to an account.", &[], Some("NewAlias"), created(None))
                        .with_errors(&["400", "404", "409"]),
                ),
            ],
        ),
        route(
            "/api/v1/aliases/{alias}",
            vec![
                (
                    "get",
                    op("aliases", "Show an alias and its target.", &[&alias], None, ok(schema_ref("AliasRecord")))
                        .with_errors(&["400", "404"]),
                ),
                (
                    "delete",
                    op("aliases", "Remove an alias.", &[&alias], None, no_content()).with_errors(&["400", "404"]),
                ),
            ],
        ),
        route(
            "/api/v1/queue",
            vec![("get", op("queue", "List the messages in the queue.", &[], None, ok(array("QueueEntry"))))],
        ),
        route(
            "/api/v1/queue/import",
            vec![(
                "post",
                op(
                    "queue",
                    "Take over the queue directory of another, failed server.",
                    &[],
                    Some("ImportRequest"),
                    ok(schema_ref("Imported")),
                )
                .with_errors(&["400", "404"]),
            )],
        ),
        route(
            "/api/v1/queue/{id}",
            vec![
                (
                    "get",
                    op(
                        "queue",
                        "Show one queued message's envelope and recipient states.",
                        &[&queue_id],
                        None,
                        ok(schema_ref("QueueEntry")),
                    )
                    .with_errors(&["400", "404"]),
                ),
                (
                    "delete",
                    op(
                        "queue",
                        "Remove a message without delivering it or telling its sender.",
                        &[&queue_id],
                        None,
                        no_content(),
                    )
                    .with_errors(&["400", "404"]),
                ),
            ],
        ),
        route(
            "/api/v1/queue/{id}/{action}",
            vec![(
                "post",
                op(
                    "queue",
                    "Retry, hold or release a queued message. Answers its states after, or null when \
                it has left the queue.",
                    &[&queue_id, &action_param()],
                    None,
                    ok(json!({ "oneOf": [schema_ref("QueueEntry"), { "type": "null" }] })),
                )
                .with_errors(&["400", "404"]),
            )],
        ),
        route(
            "/api/v1/server/status",
            vec![(
                "get",
                op(
                    "server",
                    "This member's own live figures: open connections per protocol, queue size, open web mail \
                sessions. The cluster status asks every live member for them over the cluster link.",
                    &[],
                    None,
                    ok(schema_ref("ServerStatus")),
                ),
            )],
        ),
        route(
            "/api/v1/cluster/members",
            vec![(
                "get",
                op(
                    "cluster",
                    "The other members of the cluster, each pinged over the link.",
                    &[],
                    None,
                    ok(array("MemberInfo")),
                )
                .with_errors(&["404"]),
            )],
        ),
        route(
            "/api/v1/cluster/status",
            vec![(
                "get",
                op(
                    "cluster",
                    "The cluster: members, roles, the controller, open accounts and queue sizes.",
                    &[],
                    None,
                    ok(schema_ref("ClusterStatus")),
                )
                .with_errors(&["404", "503"]),
            )],
        ),
        route(
            "/api/v1/cluster/owners/{account}",
            vec![(
                "get",
                op(
                    "cluster",
                    "The member that serves an account now, found without opening it.",
                    &[&path_param("account", "An account: `name@domain`.")],
                    None,
                    ok(schema_ref("AccountOwner")),
                )
                .with_errors(&["400", "404", "503"]),
            )],
        ),
        route("/api/v1/cluster/members/{member}/{rest}", via_member()),
    ]
}

/// `/api/v1/cluster/members/{member}/{rest}`: any call, run on a member.
/// `rest` is the rest of an `/api/v1/` path and may hold slashes, which an
/// OpenAPI path parameter cannot say, hence the description.
fn via_member() -> Vec<(&'static str, Value)> {
    let params = [
        path_param("member", "A member's server name (its main domain)."),
        path_param("rest", "The rest of an /api/v1/ path, slashes included, e.g. `accounts/ann@example.com`."),
    ];
    let answer = json!({
        "description": "The member's answer, status and body as it gave them.",
        "content": { "application/json": { "schema": {} } }
    });
    ["get", "post", "put", "delete", "patch"]
        .into_iter()
        .map(|method| {
            let mut operation = op(
                "cluster",
                "Run any /api/v1/ call on another member through this one (CM-19).",
                &[&params[0], &params[1]],
                None,
                ("200", answer.clone()),
            )
            .with_errors(&["404", "413", "503"]);
            if matches!(method, "post" | "put" | "patch") {
                operation["requestBody"] = json!({
                    "required": false,
                    "content": { "application/json": { "schema": {} } }
                });
            }
            operation["operationId"] = json!(format!("via_member_{method}"));
            (method, operation)
        })
        .collect()
}
