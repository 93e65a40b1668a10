use super::*;
use argon2::PasswordHash;

#[tokio::test]
async fn hash_then_verify() {
    let passwords = Passwords::new(2);
    let hash = passwords.hash("correct horse").await.expect("hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(passwords.verify("correct horse", Some(hash.clone())).await.expect("verify"));
    assert!(!passwords.verify("correct horsf", Some(hash)).await.expect("verify"));
}

#[test]
fn every_hash_has_its_own_salt() {
    let one = hash_blocking(b"same").expect("hash");
    let two = hash_blocking(b"same").expect("hash");
    assert_ne!(one, two);
}

#[test]
fn the_dummy_hash_costs_what_a_real_one_costs() {
    let real = hash_blocking(b"anything").expect("hash");
    let real = PasswordHash::new(&real).expect("parse real");
    let dummy = PasswordHash::new(dummy_hash()).expect("parse dummy");
    assert_eq!(real.algorithm, dummy.algorithm);
    assert_eq!(real.version, dummy.version);
    assert_eq!(real.params, dummy.params);
}

#[tokio::test]
async fn unknown_account_never_verifies() {
    let passwords = Passwords::new(1);
    assert!(!passwords.verify("whatever", None).await.expect("verify"));
}

#[test]
fn a_garbled_stored_hash_is_a_backend_error() {
    for garbled in ["", "plain text", "$argon2id$v=19$m=19456,t=2,p=1$bm90$"] {
        assert!(matches!(verify_blocking(b"pw", garbled), Err(DirectoryError::Backend(_))), "{garbled:?}");
    }
}
