//! What every logged-in page shows around its content: the header with the
//! logout form and the folder list. Page templates extend `base.html` and
//! hold a `layout: Layout` field.

use crate::error::WebError;
use crate::session::Session;
use crate::{WebmailServices, paths};

/// One folder in the navigation.
#[derive(Debug, Clone)]
pub struct FolderLink {
    pub name: String,
    pub url: String,
    pub unread: u32,
    pub messages: u32,
    /// The folder being shown.
    pub current: bool,
}

/// The frame of a logged-in page (`templates/base.html`).
#[derive(Debug, Clone)]
pub struct Layout {
    pub account: String,
    /// The session's CSRF token, for the logout form (and any other form).
    pub csrf: String,
    pub folders: Vec<FolderLink>,
    /// A short confirmation shown above the content (`role="status"`).
    pub notice: Option<String>,
}

impl Layout {
    /// The frame for `session`, with its folders; `current` is marked.
    pub async fn new(services: &WebmailServices, session: &Session, current: Option<&str>) -> Result<Layout, WebError> {
        let account = services.store.account(&session.account).await?;
        let mut folders: Vec<FolderLink> = account
            .mailboxes()
            .into_iter()
            .map(|info| FolderLink {
                url: paths::mailbox_url(&info.name),
                current: current == Some(info.name.as_str()),
                unread: info.unseen,
                messages: info.messages,
                name: info.name,
            })
            .collect();
        // INBOX first, the rest by name, as mail clients show them.
        folders.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
        Ok(Layout { account: session.account.to_string(), csrf: session.csrf.clone(), folders, notice: None })
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Layout {
        self.notice = Some(notice.into());
        self
    }
}
