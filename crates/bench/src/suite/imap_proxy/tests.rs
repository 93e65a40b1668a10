use super::*;

fn point(commands_per_s: f64, inter_server: usize) -> Point {
    let counts = |n: usize| Counts { max: n, median: n as f64, samples: 10 };
    Point {
        commands_per_s,
        sessions_per_s: commands_per_s / 9.0,
        clients: counts(10),
        backend_imap: counts(inter_server),
        ..Point::default()
    }
}

#[test]
fn the_table_gives_both_ratios_and_the_targets() {
    let mut points = BTreeMap::new();
    points.insert((10, Way::RookeryDirect), vec![point(1000.0, 0)]);
    points.insert((10, Way::RookeryFrontend), vec![point(950.0, 10)]);
    points.insert((10, Way::RookeryHaproxy), vec![point(970.0, 10)]);
    points.insert((10, Way::DovecotDirect), vec![point(500.0, 0)]);
    points.insert((10, Way::DovecotProxy), vec![point(400.0, 9)]);
    let text = tables(&[10], &points);
    assert!(
        text.contains(
            "| 10 | 1000 | 950 | 0.95 | 970 | 0.97 | 500 | 400 | 0.80 | 2.38 | frontend >= 0.90 met; rookery > dovecot met |"
        ),
        "{text}"
    );
    // Inter-server connections per client session: 10 of 10, 9 of 10.
    assert!(text.contains("| 10 | rookery via frontend | 10 / 10 | 10 / 10 | 1.00 |"), "{text}");
    assert!(text.contains("| 10 | rookery via haproxy | 10 / 10 | 10 / 10 | 1.00 | 0 / 0 | 0 / 0 |"), "{text}");
    assert!(text.contains("| 10 | dovecot via proxy | 10 / 10 | 9 / 9 | 0.90 | - | - |"), "{text}");
}

#[test]
fn a_slow_frontend_misses_its_target() {
    let mut points = BTreeMap::new();
    points.insert((10, Way::RookeryDirect), vec![point(1000.0, 0), point(1200.0, 0), point(800.0, 0)]);
    points.insert((10, Way::RookeryFrontend), vec![point(850.0, 10)]);
    let text = tables(&[10], &points);
    assert!(text.contains("| 10 | 1000 | 850 | 0.85 | - | - | - | - | - | - | frontend >= 0.90 missed |"), "{text}");
}

#[test]
fn counts_are_whole_or_halves() {
    assert_eq!(count(Some(10.0)), "10");
    assert_eq!(count(Some(9.5)), "9.5");
    assert_eq!(count(None), "-");
}

#[test]
fn verdicts() {
    assert_eq!(verdict(Some(0.9), 0.9, false), "met");
    assert_eq!(verdict(Some(1.0), 1.0, true), "missed");
    assert_eq!(verdict(Some(1.01), 1.0, true), "met");
    assert_eq!(verdict(None, 1.0, true), "");
}
