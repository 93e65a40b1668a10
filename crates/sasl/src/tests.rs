use super::*;

fn plain(b64: &str) -> Result<Credentials, SaslError> {
    parse_plain(&decode_response(b64.as_bytes())?)
}

#[test]
fn plain_cases() {
    let c = plain("AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==").unwrap();
    assert_eq!((c.authzid, c.authcid.as_str(), c.password.as_str()), (None, "alice@example.com", "secret"));
    let c = plain(&STANDARD.encode(b"admin\0alice\0pw")).unwrap();
    assert_eq!(c.authzid.as_deref(), Some("admin"));
    assert_eq!(plain("!!!not base64"), Err(SaslError::Base64));
    assert_eq!(plain(&STANDARD.encode(b"alice\0pw")), Err(SaslError::Malformed));
    assert_eq!(plain(&STANDARD.encode(b"\0\0pw")), Err(SaslError::Malformed));
    assert_eq!(plain(&STANDARD.encode(b"\0a\0b\0c")), Err(SaslError::Malformed));
    assert_eq!(plain(&STANDARD.encode(b"\0\xff\0pw")), Err(SaslError::Utf8));
    assert_eq!(plain("*"), Err(SaslError::Cancelled));
    assert_eq!(decode_response(&vec![b'A'; MAX_RESPONSE + 4]), Err(SaslError::Malformed));
}

#[test]
fn login_exchange() {
    let mut x = LoginExchange::default();
    assert_eq!(x.step(b"bob".to_vec()), Ok(None));
    let c = x.step(b"pw".to_vec()).unwrap().unwrap();
    assert_eq!((c.authcid.as_str(), c.password.as_str()), ("bob", "pw"));
    assert_eq!(LoginExchange::default().step(Vec::new()), Err(SaslError::Malformed));
    assert_eq!(STANDARD.decode(LOGIN_USERNAME_CHALLENGE).unwrap(), b"Username:");
    assert_eq!(STANDARD.decode(LOGIN_PASSWORD_CHALLENGE).unwrap(), b"Password:");
}

#[test]
fn credentials_debug_hides_password() {
    let c = Credentials { authzid: None, authcid: "a".into(), password: "hunter2".into() };
    assert!(!format!("{c:?}").contains("hunter2"));
}
