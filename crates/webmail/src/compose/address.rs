//! The To and Cc fields of the compose form: a comma-separated list of
//! `address` or `Name <address>`. Every address is checked before anything
//! is sent, and a bad one is named in the error the form shows again.

/// More recipients than this in one message is refused (the queue would
/// take it; a web form that sends to thousands is a mistake or abuse).
pub const MAX_RECIPIENTS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: Option<String>,
    pub address: String,
}

impl Recipient {
    /// Whether the address needs SMTPUTF8 (RFC 6531) to be sent.
    pub fn is_utf8(&self) -> bool {
        !self.address.is_ascii()
    }
}

/// All recipients of one field; an empty field gives an empty list.
pub fn parse_list(field: &str) -> Result<Vec<Recipient>, String> {
    if field.chars().any(|ch| ch.is_control() && ch != '\t') {
        return Err("addresses cannot contain line breaks or control characters".to_owned());
    }
    let mut recipients = Vec::new();
    for item in split_items(field) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        recipients.push(parse_one(item)?);
        if recipients.len() > MAX_RECIPIENTS {
            return Err(format!("at most {MAX_RECIPIENTS} recipients"));
        }
    }
    Ok(recipients)
}

/// Splits on commas outside quotes and angle brackets.
fn split_items(field: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut angle) = (0, false, false);
    for (index, ch) in field.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                items.push(&field[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&field[start..]);
    items
}

fn parse_one(item: &str) -> Result<Recipient, String> {
    let (name, address) = match (item.rfind('<'), item.ends_with('>')) {
        (Some(open), true) => {
            let name = item[..open].trim().trim_matches('"').trim();
            (Some(name).filter(|n| !n.is_empty()).map(str::to_owned), &item[open + 1..item.len() - 1])
        }
        (None, false) => (None, item),
        _ => return Err(format!("\"{item}\" is not an address")),
    };
    let address = address.trim();
    if !is_valid_address(address) {
        return Err(format!("\"{address}\" is not a valid e-mail address"));
    }
    Ok(Recipient { name, address: address.to_owned() })
}

/// `local@domain` as SMTP carries it: a dot-atom local part (RFC 5322
/// atext, UTF-8 allowed as RFC 6531 does) and a domain of LDH labels.
pub fn is_valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|ch| !ch.is_ascii() || ch.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(ch));
    local_ok && is_valid_domain(domain)
}

fn is_valid_domain(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|ch| !ch.is_ascii() || ch.is_ascii_alphanumeric() || ch == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_named_addresses() {
        let list =
            parse_list("bob@example.org, \"Carol, C.\" <carol@example.org>; Dan <dan@example.org>,").expect("valid");
        let addresses: Vec<_> = list.iter().map(|r| (r.name.as_deref(), r.address.as_str())).collect();
        assert_eq!(
            addresses,
            [(None, "bob@example.org"), (Some("Carol, C."), "carol@example.org"), (Some("Dan"), "dan@example.org")]
        );
        assert_eq!(parse_list("  ").expect("empty is fine"), []);
    }

    #[test]
    fn refuses_bad_addresses_with_a_reason() {
        for bad in [
            "bob",
            "bob@",
            "@example.org",
            "a b@example.org",
            "bob@exa mple.org",
            "bob@-x.org",
            "a..b@x.org",
            "<bob@x.org",
            "bob@x.org>",
            "a@b@c",
        ] {
            let error = parse_list(bad).expect_err(bad);
            assert!(error.contains("not"), "{bad}: {error}");
        }
        assert!(parse_list("bob@example.org\r\nBcc: eve@example.org").is_err());
    }

    #[test]
    fn limits_the_number_of_recipients() {
        let many = vec!["x@example.org"; MAX_RECIPIENTS + 1].join(",");
        assert!(parse_list(&many).is_err());
        let most = vec!["x@example.org"; MAX_RECIPIENTS].join(",");
        assert_eq!(parse_list(&most).map(|l| l.len()), Ok(MAX_RECIPIENTS));
    }

    #[test]
    fn utf8_addresses_are_allowed_and_flagged() {
        let list = parse_list("jörg@bücher.example").expect("utf-8 address");
        assert!(list[0].is_utf8());
    }
}
