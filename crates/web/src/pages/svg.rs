//! The cluster as a picture: an SVG laid out here from [`ClusterStatus`],
//! frontends in the top row and the members that keep accounts below,
//! each a box saying (in words, not only colour) whether it is live, with
//! its figures. Colours are attributes, not a `<style>` element, so the
//! picture obeys the pages' Content-Security-Policy when inlined.

use crate::cluster::{ClusterStatus, MemberStatus};
use askama::Template;

const BOX_W: u32 = 220;
const BOX_H: u32 = 170;
const GAP: u32 = 30;
const ROW_LABEL: u32 = 24;
const LINE: u32 = 18;

#[derive(Template)]
#[template(path = "cluster.svg", escape = "html")]
pub(crate) struct Picture {
    pub width: u32,
    pub height: u32,
    pub title: String,
    pub desc: String,
    pub rows: Vec<RowLabel>,
    pub boxes: Vec<MemberBox>,
    pub links: Vec<Link>,
}

pub(crate) struct RowLabel {
    pub y: u32,
    pub text: &'static str,
}

pub(crate) struct MemberBox {
    pub x: u32,
    pub y: u32,
    pub fill: &'static str,
    pub stroke: &'static str,
    pub stroke_width: u32,
    /// Dead members are dashed as well as red, for those who cannot tell colours apart.
    pub dashed: bool,
    pub name: String,
    pub lines: Vec<TextLine>,
    pub width: u32,
    pub height: u32,
}

pub(crate) struct TextLine {
    pub x: u32,
    pub y: u32,
    pub text: String,
}

/// A frontend-to-backend connection in the picture.
pub(crate) struct Link {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
}

pub(crate) fn draw(status: &ClusterStatus) -> Picture {
    let (front, rest): (Vec<&MemberStatus>, Vec<&MemberStatus>) =
        status.members.iter().partition(|m| m.role.eq_ignore_ascii_case("frontend"));
    // A member that has never answered has no known role: drawn in a row
    // of its own rather than guessed to be a backend.
    let (unknown, back): (Vec<&MemberStatus>, Vec<&MemberStatus>) = rest.into_iter().partition(|m| m.role.is_empty());
    let widest = front.len().max(back.len()).max(unknown.len()).max(1) as u32;
    let width = GAP + widest * (BOX_W + GAP);
    let mut rows = Vec::new();
    let mut boxes = Vec::new();
    let mut y = GAP;
    let mut row_tops = Vec::new();
    for (label, members) in [("Frontends", &front), ("Backends", &back), (UNKNOWN_ROW, &unknown)] {
        if members.is_empty() {
            continue;
        }
        rows.push(RowLabel { y: y + ROW_LABEL - 8, text: label });
        let top = y + ROW_LABEL;
        row_tops.push((label, top, members.len()));
        for (i, member) in members.iter().enumerate() {
            let x = GAP + i as u32 * (BOX_W + GAP);
            boxes.push(member_box(status, member, x, top));
        }
        y = top + BOX_H + GAP * 2;
    }
    let links = links(&row_tops);
    let height = y.max(GAP * 2 + BOX_H);
    let live = status.members.iter().filter(|m| m.live).count();
    Picture {
        width,
        height,
        title: format!("{} cluster {}", status.kind, status.name),
        desc: format!(
            "{} members, {live} live, {} frontends; controller: {}",
            status.members.len(),
            front.len(),
            status.controller.as_deref().unwrap_or("none")
        ),
        rows,
        boxes,
        links,
    }
}

fn member_box(status: &ClusterStatus, member: &MemberStatus, x: u32, y: u32) -> MemberBox {
    let controller = status.controller.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(&member.name));
    let mut texts = vec![
        (if member.live { "● live" } else { "✕ DEAD" }).to_owned(),
        format!("role: {}", if member.role.is_empty() { "unknown" } else { &member.role }),
    ];
    if controller {
        texts.push("★ controller".to_owned());
    }
    let figure = |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |n| n.to_string());
    if member.open_accounts.is_some() {
        texts.push(format!("open accounts: {}", figure(member.open_accounts)));
    }
    if let Some(accounts) = member.accounts {
        texts.push(format!("accounts: {accounts}"));
    }
    texts.push(format!("connections: {}", figure(member.connections)));
    texts.push(format!("queue: {}", figure(member.queue_messages)));
    if let Some(sessions) = member.webmail_sessions {
        texts.push(format!("web mail sessions: {sessions}"));
    }
    let name_y = y + 22;
    let lines = texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| TextLine { x: x + 12, y: name_y + (i as u32 + 1) * LINE, text })
        .collect();
    MemberBox {
        x,
        y,
        fill: if member.live { "#e8f5e9" } else { "#fdecea" },
        stroke: if member.live { "#2e7d32" } else { "#b71c1c" },
        stroke_width: if controller { 4 } else { 2 },
        dashed: !member.live,
        name: member.name.clone(),
        lines,
        width: BOX_W,
        height: BOX_H,
    }
}

/// The row of members whose role is not known (they have not answered).
const UNKNOWN_ROW: &str = "Not answering (role unknown)";

/// Every frontend talks to every backend: a line from each to each.
fn links(rows: &[(&str, u32, usize)]) -> Vec<Link> {
    let row = |label: &str| rows.iter().find(|(l, _, _)| *l == label).map(|&(_, top, n)| (top, n));
    let (Some((front_top, fronts)), Some((back_top, backs))) = (row("Frontends"), row("Backends")) else {
        return Vec::new();
    };
    let centre = |i: usize| GAP + i as u32 * (BOX_W + GAP) + BOX_W / 2;
    let mut links = Vec::new();
    for f in 0..fronts {
        for b in 0..backs {
            links.push(Link { x1: centre(f), y1: front_top + BOX_H, x2: centre(b), y2: back_top });
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, role: &str, live: bool) -> MemberStatus {
        MemberStatus {
            name: name.into(),
            role: role.into(),
            live,
            link: None,
            imap: None,
            open_accounts: None,
            queue_messages: Some(3),
            accounts: None,
            connections: Some(7),
            webmail_sessions: None,
        }
    }

    #[test]
    fn frontends_are_drawn_above_backends_and_the_dead_are_said_so() {
        let status = ClusterStatus {
            kind: "dynamic".into(),
            name: "c1".into(),
            controller: Some("b1.test".into()),
            members: vec![member("b1.test", "backend", true), member("f1.test", "frontend", true), {
                member("b2.test", "backend", false)
            }],
        };
        let picture = draw(&status);
        let y_of = |name: &str| picture.boxes.iter().find(|b| b.name == name).unwrap().y;
        assert!(y_of("f1.test") < y_of("b1.test"));
        assert_eq!(y_of("b1.test"), y_of("b2.test"));
        assert_eq!(picture.links.len(), 2);
        let svg = picture.render().unwrap();
        assert!(svg.contains("★ controller") && svg.contains("✕ DEAD") && svg.contains("connections: 7"), "{svg}");
        assert!(svg.contains("stroke-dasharray"), "{svg}");
    }

    #[test]
    fn a_member_of_unknown_role_gets_a_row_of_its_own_below_the_backends() {
        let status = ClusterStatus {
            kind: "static".into(),
            name: "fe2.test".into(),
            controller: None,
            members: vec![member("fe1.test", "", false), member("fe2.test", "frontend", true), {
                member("sv1.test", "backend", true)
            }],
        };
        let picture = draw(&status);
        let y_of = |name: &str| picture.boxes.iter().find(|b| b.name == name).unwrap().y;
        assert!(y_of("fe2.test") < y_of("sv1.test") && y_of("sv1.test") < y_of("fe1.test"));
        // Lines join frontends and backends only.
        assert_eq!(picture.links.len(), 1);
        let svg = picture.render().unwrap();
        assert!(svg.contains(UNKNOWN_ROW) && svg.contains("role: unknown"), "{svg}");
    }
}
