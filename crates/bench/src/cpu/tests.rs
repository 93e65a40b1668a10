use super::*;

#[test]
fn sums_user_system_and_reaped_children_times() {
    let stat = "4242 (imap-login (x)) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 3 2 20 0 1 0 99 1000 10 \
                18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    assert_eq!(stat_ticks(stat), Some(17 + 5 + 3 + 2));
}

#[test]
fn a_truncated_line_gives_nothing() {
    assert_eq!(stat_ticks("4242 (x) S 1 2 3"), None);
    assert_eq!(stat_ticks("no parenthesis"), None);
}

#[test]
fn the_own_process_has_a_cpu_time() {
    // Burn a little CPU so that the figure is not zero on a fast machine.
    let mut x = 0u64;
    for i in 0..50_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    std::hint::black_box(x);
    assert!(ticks(&[std::process::id()]) > 0);
}
