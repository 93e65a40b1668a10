//! `GET /mail/{mailbox}`: the message list of one mailbox with paging,
//! sorting and search. Work is bounded: sorting by sender or subject and
//! searching read the headers of at most [`MAX_SCAN`] newest messages, and
//! body search reads at most [`MAX_BODY_SCAN`] messages of at most
//! [`MAX_BODY_SIZE`] bytes each, a few at a time.

use crate::error::WebError;
use crate::layout::Layout;
use crate::listing::{self, SortKey, Summary};
use crate::paths::{encode_segment, mailbox_url, message_url};
use crate::{Session, WebmailServices, page};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use store::{Account, Extent};
use types::{MailboxId, Uid};

pub const MAX_SCAN: usize = 5_000;
pub const MAX_BODY_SCAN: usize = 500;
pub const MAX_BODY_SIZE: u64 = 1 << 20;
/// Messages read at once by body search: bounds the memory it holds.
const BODY_CHUNK: usize = 16;
/// Longer search text is cut: nobody types more, and it bounds the work.
const MAX_QUERY_CHARS: usize = 200;

/// Every field optional and read leniently, so no URL is an error.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    q: Option<String>,
    notice: Option<String>,
}

pub struct Row {
    pub url: String,
    pub subject: String,
    pub from: String,
    pub date: String,
    pub size: String,
    pub unread: bool,
    pub flagged: bool,
}

/// A sortable column heading.
pub struct Column {
    pub label: &'static str,
    pub key: &'static str,
    pub url: String,
    /// `aria-sort` value.
    pub aria_sort: &'static str,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    layout: Layout,
    mailbox: String,
    action: String,
    rows: Vec<Row>,
    columns: Vec<Column>,
    q: String,
    sort: &'static str,
    order: &'static str,
    page: usize,
    n_pages: usize,
    total: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
    /// Sorting or search looked at the newest messages only.
    truncated: bool,
}

/// The fixed text of each notice another page may redirect here with.
fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "sent" => Some("Message sent."),
        "deleted" => Some("Message deleted."),
        "moved" => Some("Message moved."),
        "password" => Some("Password changed."),
        _ => None,
    }
}

fn list_url(mailbox: &str, page: usize, sort: SortKey, descending: bool, q: &str) -> String {
    let order = if descending { "desc" } else { "asc" };
    let mut url = format!("{}?page={page}&sort={}&order={order}", mailbox_url(mailbox), sort.as_str());
    if !q.is_empty() {
        url.push_str("&q=");
        url.push_str(&encode_segment(q));
    }
    url
}

pub async fn list(
    State(services): State<Arc<WebmailServices>>,
    session: Session,
    Path(mailbox): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let account = services.store.account(&session.account).await?;
    let snapshot = account.snapshot(&mailbox)?;
    let mailbox = snapshot.info.name.clone();
    let sort = SortKey::parse(query.sort.as_deref());
    let descending = query.order.as_deref() != Some("asc");
    let q: String = query.q.as_deref().unwrap_or_default().trim().chars().take(MAX_QUERY_CHARS).collect();
    let needle = q.to_lowercase();
    let mut metas = snapshot.messages;
    let needs_headers = sort.needs_headers() || !needle.is_empty();
    let truncated = needs_headers && metas.len() > MAX_SCAN;
    if truncated {
        metas.drain(..metas.len() - MAX_SCAN);
    }
    let mut rows: Vec<Summary> = metas.iter().map(Summary::from_meta).collect();
    if needs_headers {
        fill_headers(&account, snapshot.info.id, &mut rows).await?;
    }
    if !needle.is_empty() {
        rows = search(&account, snapshot.info.id, rows, &needle).await?;
    }
    listing::sort(&mut rows, sort, descending);
    let requested = query.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1);
    let (start, end, n_pages) = listing::page_bounds(rows.len(), requested);
    let page_number = start / listing::PAGE_SIZE + 1;
    let total = rows.len();
    let mut shown: Vec<Summary> = rows.drain(start..end).collect();
    if !needs_headers {
        fill_headers(&account, snapshot.info.id, &mut shown).await?;
    }
    let columns =
        [("Date", SortKey::Date), ("From", SortKey::From), ("Subject", SortKey::Subject), ("Size", SortKey::Size)]
            .into_iter()
            .map(|(label, key)| {
                let current = key == sort;
                // A click on the current column turns its order round; a new
                // column starts newest or largest first, names A to Z.
                let next_descending = if current { !descending } else { !key.needs_headers() };
                Column {
                    label,
                    key: key.as_str(),
                    url: list_url(&mailbox, 1, key, next_descending, &q),
                    aria_sort: match (current, descending) {
                        (false, _) => "none",
                        (true, true) => "descending",
                        (true, false) => "ascending",
                    },
                }
            })
            .collect();
    let mut layout = Layout::new(&services, &session, Some(&mailbox)).await?;
    if let Some(text) = query.notice.as_deref().and_then(notice_text) {
        layout = layout.with_notice(text);
    }
    let rows = shown
        .into_iter()
        .map(|row| Row {
            url: message_url(&mailbox, row.uid),
            subject: if row.subject.is_empty() { "(no subject)".to_owned() } else { row.subject },
            from: row.from,
            date: listing::display_date(row.date),
            size: listing::human_size(row.size),
            unread: !row.seen,
            flagged: row.flagged,
        })
        .collect();
    page(&ListPage {
        layout,
        action: mailbox_url(&mailbox),
        prev_url: (page_number > 1).then(|| list_url(&mailbox, page_number - 1, sort, descending, &q)),
        next_url: (page_number < n_pages).then(|| list_url(&mailbox, page_number + 1, sort, descending, &q)),
        mailbox,
        rows,
        columns,
        q,
        sort: sort.as_str(),
        order: if descending { "desc" } else { "asc" },
        page: page_number,
        n_pages,
        total,
        truncated,
    })
}

/// Reads the headers of `rows` (one trip to the store) into them; a
/// message expunged meanwhile keeps an empty subject.
async fn fill_headers(account: &Account, mailbox: MailboxId, rows: &mut [Summary]) -> Result<(), WebError> {
    let uids: Vec<Uid> = rows.iter().map(|row| Uid(row.uid)).collect();
    let headers = account.read_many(mailbox, &uids, Extent::Header).await?;
    for (row, header) in rows.iter_mut().zip(headers) {
        if let Some(header) = header {
            *row = row.clone().with_header(&header);
        }
    }
    Ok(())
}

/// The rows whose headers match, plus those among the newest small ones
/// whose text matches.
async fn search(
    account: &Account,
    mailbox: MailboxId,
    rows: Vec<Summary>,
    needle: &str,
) -> Result<Vec<Summary>, WebError> {
    let (mut hits, misses): (Vec<Summary>, Vec<Summary>) =
        rows.into_iter().partition(|row| listing::header_matches(row, needle));
    let candidates: Vec<Summary> =
        misses.into_iter().rev().filter(|row| row.size <= MAX_BODY_SIZE).take(MAX_BODY_SCAN).collect();
    for chunk in candidates.chunks(BODY_CHUNK) {
        let uids: Vec<Uid> = chunk.iter().map(|row| Uid(row.uid)).collect();
        let bodies = account.read_many(mailbox, &uids, Extent::Whole).await?;
        for (row, body) in chunk.iter().zip(bodies) {
            if body.is_some_and(|body| listing::body_matches(&body, needle)) {
                hits.push(row.clone());
            }
        }
    }
    Ok(hits)
}
