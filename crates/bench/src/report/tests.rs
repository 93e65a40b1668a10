use super::{Row, median, percentile, table, table_against};
use std::time::Duration;

#[test]
fn medians() {
    let cases: &[(&[f64], Option<f64>)] = &[
        (&[], None),
        (&[5.0], Some(5.0)),
        (&[3.0, 1.0, 2.0], Some(2.0)),
        (&[4.0, 1.0, 3.0, 2.0], Some(2.5)),
        (&[10.0, 10.0, 1000.0], Some(10.0)),
    ];
    for (samples, expected) in cases {
        assert_eq!(median(samples), *expected, "{samples:?}");
    }
}

#[test]
fn table_shows_ratio_target_and_missing_sides() {
    let mut met = Row::new("delivery", 8, Some(2.0));
    met.rookery = vec![300.0, 310.0, 290.0];
    met.peer = vec![100.0, 150.0, 140.0];
    let mut missing = Row::new("pop3", 1, Some(1.5));
    missing.peer = vec![1000.0];
    let text = table(&[met, missing]);
    assert!(text.contains("| delivery | 8 | 300 | 140 | 2.14 | >= 2.0 met |"), "{text}");
    assert!(text.contains("| pop3 | 1 | - | 1000 | - | >= 1.5 |"), "{text}");
}

#[test]
fn table_against_a_ceiling_shows_a_fractional_target() {
    let mut missed = Row::new("relay", 32, Some(0.7));
    missed.rookery = vec![5000.0];
    missed.peer = vec![20000.0];
    let text = table_against(&[missed], "ceiling", "/s");
    assert!(text.starts_with("| workload | concurrency | rookery /s | ceiling /s | ratio | target |"), "{text}");
    assert!(text.contains("| relay | 32 | 5000 | 20000 | 0.25 | >= 0.70 missed |"), "{text}");
}

#[test]
fn percentiles_by_nearest_rank() {
    let ms = |values: &[u64]| values.iter().map(|&v| Duration::from_millis(v)).collect::<Vec<_>>();
    let hundred = ms(&(1..=100).rev().collect::<Vec<_>>());
    let cases: &[(&[Duration], f64, Option<u64>)] = &[
        (&[], 0.99, None),
        (&ms(&[7]), 0.99, Some(7)),
        (&ms(&[3, 1, 2]), 0.5, Some(2)),
        (&hundred, 0.99, Some(99)),
        (&hundred, 1.0, Some(100)),
        (&hundred, 0.0, Some(1)),
    ];
    for (samples, fraction, expected) in cases {
        assert_eq!(percentile(samples, *fraction), expected.map(Duration::from_millis), "{fraction} of {samples:?}");
    }
}
