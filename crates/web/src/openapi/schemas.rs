//! JSON Schemas (OpenAPI 3.1 dialect) of the bodies the API takes and
//! gives, named after the Rust types they describe; `tests/openapi.rs`
//! validates real answers against them.

use serde_json::{Value, json};

pub(super) fn all() -> Value {
    json!({
        "Error": object(json!({ "error": string("What went wrong, for a person to read.") }), &["error"]),
        "NewDomain": object(json!({
            "name": string("The domain name."),
            "shared": { "type": "boolean", "default": false,
                "description": "A Shared Domain, served by the whole cluster (CM-3); otherwise, in a cluster, local \
                    to the member that adds it." },
        }), &["name"]),
        "DomainRecord": object(json!({
            "name": string("The domain name."),
            "server": nullable_string("The member a local domain belongs to; null for a Shared Domain or on a \
                single server."),
        }), &["name", "server"]),
        "DomainDetail": object(json!({
            "name": string("The domain name."),
            "server": nullable_string("The member a local domain belongs to; null for a Shared Domain or on a \
                single server."),
            "accounts": count("Accounts in the domain."),
            "aliases": count("Aliases in the domain."),
        }), &["name", "server", "accounts", "aliases"]),
        "NewAccount": object(json!({
            "name": string("`name@domain`, or a bare name in the main domain."),
            "password": string("The password (not empty)."),
            "quota_bytes": nullable_count("Storage limit in bytes; absent or null: unlimited."),
            "server": string("In a cluster, the backend to host the account; absent: the member called."),
        }), &["name", "password"]),
        "AccountRecord": object(json!({
            "name": string("`name@domain`."),
            "quota_bytes": nullable_count("Storage limit in bytes; null: unlimited."),
            "created": count("Unix seconds."),
        }), &["name", "quota_bytes", "created"]),
        "AccountSummary": object(json!({
            "name": string("`name@domain`."),
            "quota_bytes": nullable_count("Storage limit in bytes; null: unlimited."),
            "created": count("Unix seconds."),
            "used_bytes": count("Bytes stored (with usage=true on a single server)."),
            "messages": count("Messages stored (with usage=true on a single server)."),
        }), &["name", "quota_bytes", "created"]),
        "AccountDetail": object(json!({
            "name": string("`name@domain`."),
            "quota_bytes": nullable_count("Storage limit in bytes; null: unlimited."),
            "used_bytes": count("Bytes stored."),
            "messages": count("Messages stored."),
            "created": count("Unix seconds."),
            "aliases": { "type": "array", "items": { "type": "string" }, "description": "Aliases that lead here." },
        }), &["name", "quota_bytes", "used_bytes", "messages", "created", "aliases"]),
        "AccountQuota": object(json!({
            "account": string("`name@domain`."),
            "quota_bytes": nullable_count("Storage limit in bytes; null: unlimited."),
            "used_bytes": count("Bytes stored."),
            "messages": count("Messages stored."),
        }), &["account", "quota_bytes", "used_bytes", "messages"]),
        "NewPassword": object(json!({ "password": string("The new password (not empty).") }), &["password"]),
        "NewQuota": object(json!({
            "quota_bytes": nullable_count("Storage limit in bytes; null: unlimited."),
        }), &["quota_bytes"]),
        "NewAlias": object(json!({
            "alias": string("The alias address; a bare name is in the main domain."),
            "target": string("The account mail to the alias goes to."),
        }), &["alias", "target"]),
        "AliasRecord": object(json!({
            "alias": string("The alias address."),
            "target": string("The account it leads to."),
        }), &["alias", "target"]),
        "Envelope": object(json!({
            "mail_from": string("The reverse-path without angle brackets; empty for <>."),
            "recipients": { "type": "array", "items": { "type": "string" }, "description": "In RCPT order." },
            "received_at": { "type": "integer", "description": "Unix seconds." },
            "authenticated_as": nullable_string("The account that submitted it, if any."),
            "smtputf8": { "type": "boolean" },
        }), &["mail_from", "recipients", "received_at", "authenticated_as", "smtputf8"]),
        "RecipientState": recipient_state(),
        "QueueEntry": object(json!({
            "id": { "type": "integer", "minimum": 0,
                "description": "The message's id; in paths it is written as 16 hexadecimal digits." },
            "envelope": { "$ref": "#/components/schemas/Envelope" },
            "size": count("Bytes."),
            "states": { "type": "array", "items": { "$ref": "#/components/schemas/RecipientState" },
                "description": "One per recipient, in the envelope's order." },
        }), &["id", "envelope", "size", "states"]),
        "ImportRequest": object(json!({
            "dir": string("The failed server's spool directory, as a path on this server's machine."),
        }), &["dir"]),
        "Imported": object(json!({
            "messages": count("Messages queued here."),
            "recipients": count("Recipients still to be delivered, now in this queue."),
            "done_before": count("Recipients the failed server had already delivered or bounced, left out."),
        }), &["messages", "recipients", "done_before"]),
        "MemberInfo": object(json!({
            "name": string("The member's server name."),
            "link": string("Its cluster link address."),
            "reachable": { "type": "boolean", "description": "Whether it answered a ping just now." },
        }), &["name", "link", "reachable"]),
        "MemberStatus": object(json!({
            "name": string("The member's server name."),
            "role": string("backend, frontend, symmetric, or empty when unknown."),
            "live": { "type": "boolean", "description": "Registered (dynamic) or answering a ping (static)." },
            "link": nullable_string("Its cluster link address."),
            "imap": nullable_string("Its IMAP address."),
            "open_accounts": nullable_count("Accounts it has open (dynamic cluster)."),
            "queue_messages": nullable_count("Messages in its queue."),
            "accounts": nullable_count("Accounts whose hostServer is this member (static cluster)."),
            "connections": nullable_count("Client connections it serves now, all protocols together."),
            "webmail_sessions": nullable_count("Web mail sessions open on it now."),
        }), &["name", "role", "live", "link", "imap", "open_accounts", "queue_messages"]),
        "ServerStatus": object(json!({
            "name": string("This member's server name (a single server: its main domain)."),
            "role": nullable_string("backend, frontend or symmetric; null on a single server."),
            "connections": {
                "type": ["object", "null"],
                "additionalProperties": { "type": "integer", "minimum": 0 },
                "description": "Client connections open now per listener protocol; null when metrics are off.",
            },
            "queue_messages": count("Messages in its queue."),
            "webmail_sessions": nullable_count("Open web mail sessions; null where no web mail runs."),
        }), &["name", "role", "connections", "queue_messages", "webmail_sessions"]),
        "ClusterStatus": object(json!({
            "kind": { "type": "string", "enum": ["static", "dynamic"] },
            "name": string("The dynamic cluster's name, or this member's."),
            "controller": nullable_string("The elected controller of a dynamic cluster (CM-12)."),
            "members": { "type": "array", "items": { "$ref": "#/components/schemas/MemberStatus" } },
        }), &["kind", "name", "controller", "members"]),
        "AccountOwner": object(json!({
            "account": string("`name@domain`."),
            "owner": nullable_string("The member serving it; null when nobody has it open (dynamic)."),
        }), &["account", "owner"]),
    })
}

/// `queue::RecipientState` as serde writes it: a bare name for the states
/// without data, `{"State": {...}}` for the others.
fn recipient_state() -> Value {
    let tagged = |name: &str, fields: Value, required: &[&str]| {
        json!({
            "type": "object",
            "properties": { name: object(fields, required) },
            "required": [name],
            "additionalProperties": false,
        })
    };
    json!({
        "description": "Where one recipient stands.",
        "oneOf": [
            { "type": "string", "enum": ["Pending", "Delivered"] },
            tagged("Deferred", json!({
                "attempts": count("Attempts so far."),
                "next_attempt": { "type": "integer", "description": "Unix seconds." },
                "last_error": string("The last attempt's error."),
                "warned": { "type": "boolean", "description": "The sender has been told of the delay." },
            }), &["attempts", "next_attempt", "last_error", "warned"]),
            tagged("Held", json!({ "reason": string("Why it is held.") }), &["reason"]),
            tagged("Failed", json!({ "reason": string("Why it failed.") }), &["reason"]),
        ]
    })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn nullable_string(description: &str) -> Value {
    json!({ "type": ["string", "null"], "description": description })
}

fn count(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "description": description })
}

fn nullable_count(description: &str) -> Value {
    json!({ "type": ["integer", "null"], "minimum": 0, "description": description })
}
