use super::{Delivery, base64, share};

/// `per_account` must agree with the assignment the sessions make:
/// connection k sends messages k, k + c, k + 2c, ... and message i goes to
/// account i % accounts.
#[test]
fn per_account_matches_the_sessions() {
    for (messages, accounts, connections) in [(4000, 100, 32), (500, 100, 1), (200, 10, 8), (7, 3, 2), (5, 8, 3)] {
        let mut sent = vec![0u64; accounts];
        for connection in 0..connections {
            for n in 0..share(messages, connections, connection) {
                sent[(connection + n * connections) % accounts] += 1;
            }
        }
        assert_eq!(Delivery::per_account(messages, accounts), sent, "{messages} {accounts} {connections}");
    }
}

#[test]
fn recipient_lines() {
    let lines = Delivery::recipient_lines(&["a@x.example".to_owned()]);
    assert_eq!(&lines[0][..], b"RCPT TO:<a@x.example>\r\n");
}

#[test]
fn auth_plain_line_is_base64_of_the_nul_separated_credentials() {
    // RFC 4648 §10 test vectors, and the padding cases.
    for (raw, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
        assert_eq!(base64(raw.as_bytes()), encoded);
    }
    assert_eq!(&Delivery::auth_plain_line("u@x", "pw")[..], b"AUTH PLAIN AHVAeABwdw==\r\n");
}
