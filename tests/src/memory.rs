//! What a registry process costs in memory, as `/proc` reports it.

/// The peak resident set size of process `pid` so far (`VmHWM`), in KiB;
/// panics when `/proc` does not say.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"))
}

/// Asserts the registry process `pid` never held `bound_kib` KiB or more
/// (peak RSS so far); `when` says what it was doing, for the log and the
/// failure.
pub fn assert_peak_rss_below(pid: u32, bound_kib: u64, when: &str) {
    let peak = peak_rss_kib(pid);
    eprintln!("peak RSS {when}: {peak} KiB");
    assert!(
        peak < bound_kib,
        "the registry peaked at {peak} KiB {when} (bound {bound_kib} KiB): \
         it holds blob data in memory"
    );
}
