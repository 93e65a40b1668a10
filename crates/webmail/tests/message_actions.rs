//! The message page's forms over real HTTP: flag, seen, move, delete (to
//! Trash, then for good), and every one refused without the CSRF token.

mod mail_support;

use mail_support::{ANN, Server};
use store::Flag;

const MESSAGE: &str = "From: bob@example.org\r\nTo: ann@example.org\r\nSubject: act on me\r\n\r\nbody\r\n";

#[tokio::test]
async fn flag_unflag_and_mark_unread() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", MESSAGE).await;
    let ann = server.login(ANN).await;
    let url = format!("/mail/INBOX/{}", uid.0);

    let response = ann.post_form(&format!("{url}/flag"), &[("csrf", &ann.csrf), ("set", "flagged")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], url.as_str());
    assert!(server.flags(ANN, "INBOX", uid).await.expect("there").contains(&Flag::Flagged));
    let page = ann.get(&url).await.text().await.expect("page");
    assert!(page.contains("name=\"set\" value=\"unflagged\""), "the form offers to unflag");

    ann.post_form(&format!("{url}/flag"), &[("csrf", &ann.csrf), ("set", "unflagged")]).await;
    assert!(!server.flags(ANN, "INBOX", uid).await.expect("there").contains(&Flag::Flagged));

    // Reading marked it seen; "mark unread" clears that and goes to the list.
    let response = ann.post_form(&format!("{url}/flag"), &[("csrf", &ann.csrf), ("set", "unseen")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/mail/INBOX");
    assert!(!server.flags(ANN, "INBOX", uid).await.expect("there").contains(&Flag::Seen));

    let response = ann.post_form(&format!("{url}/flag"), &[("csrf", &ann.csrf), ("set", "deleted")]).await;
    assert_eq!(response.status(), 400, "only the offered changes");
}

#[tokio::test]
async fn move_to_another_folder() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", MESSAGE).await;
    let ann = server.login(ANN).await;
    let response =
        ann.post_form(&format!("/mail/INBOX/{}/move", uid.0), &[("csrf", &ann.csrf), ("to", "Archive")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/mail/INBOX?notice=moved");
    assert_eq!(server.count(ANN, "INBOX").await, 0);
    assert_eq!(server.count(ANN, "Archive").await, 1);

    let moved = server.append(ANN, "INBOX", MESSAGE).await;
    let response =
        ann.post_form(&format!("/mail/INBOX/{}/move", moved.0), &[("csrf", &ann.csrf), ("to", "Nowhere")]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(server.count(ANN, "INBOX").await, 1, "nothing moved to a folder that does not exist");
}

#[tokio::test]
async fn delete_moves_to_trash_then_removes_for_good() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", MESSAGE).await;
    let ann = server.login(ANN).await;
    let response = ann.post_form(&format!("/mail/INBOX/{}/delete", uid.0), &[("csrf", &ann.csrf)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(server.count(ANN, "INBOX").await, 0);
    assert_eq!(server.count(ANN, "Trash").await, 1);

    let account = server.store.account(&mail_support::account(ANN)).await.expect("account");
    let in_trash = account.snapshot("Trash").expect("trash").messages[0].uid;
    let response = ann.post_form(&format!("/mail/Trash/{}/delete", in_trash.0), &[("csrf", &ann.csrf)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/mail/Trash?notice=deleted");
    assert_eq!(server.count(ANN, "Trash").await, 0);
    // Deleting what is gone is a 404, not a silent success.
    let response = ann.post_form(&format!("/mail/Trash/{}/delete", in_trash.0), &[("csrf", &ann.csrf)]).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn every_action_without_the_csrf_token_is_403_and_changes_nothing() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", MESSAGE).await;
    let ann = server.login(ANN).await;
    let url = format!("/mail/INBOX/{}", uid.0);
    let before = server.flags(ANN, "INBOX", uid).await.expect("there");
    for token in ["", "forged-token"] {
        let with = |extra: (&'static str, &'static str)| vec![("csrf", token), extra];
        let posts = [
            (format!("{url}/flag"), with(("set", "flagged"))),
            (format!("{url}/flag"), with(("set", "seen"))),
            (format!("{url}/delete"), with(("x", "y"))),
            (format!("{url}/move"), with(("to", "Archive"))),
        ];
        for (path, fields) in posts {
            let fields: Vec<_> = fields.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            let response = ann.post_form(&path, &fields).await;
            assert_eq!(response.status(), 403, "{path} with token {token:?}");
        }
    }
    assert_eq!(server.flags(ANN, "INBOX", uid).await.expect("still there"), before);
    assert_eq!(server.count(ANN, "Trash").await, 0);
    assert_eq!(server.count(ANN, "Archive").await, 0);
}
