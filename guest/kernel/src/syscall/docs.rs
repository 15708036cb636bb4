//! Keeps docs/syscalls.md in step with the dispatch table (a test only).

#[cfg(test)]
mod tests {
    use crate::syscall::names::LINUX_SYSCALLS;
    use crate::syscall::table::IMPLEMENTED;

    const DOC: &str = include_str!("../../../../docs/syscalls.md");

    /// (number, name, status) of every row of the table.
    fn rows() -> Vec<(u64, String, String)> {
        DOC.lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let nr = cells.get(1)?.parse().ok()?;
                Some((nr, cells.get(2)?.to_string(), cells.get(3)?.to_string()))
            })
            .collect()
    }

    #[test]
    fn every_syscall_is_listed_once_with_its_linux_name() {
        let rows = rows();
        assert_eq!(rows.len(), LINUX_SYSCALLS.len(), "one row per Linux syscall");
        for ((nr, name, _), (want_nr, want_name)) in rows.iter().zip(LINUX_SYSCALLS) {
            assert_eq!((nr, name.as_str()), (want_nr, *want_name));
        }
    }

    #[test]
    fn statuses_match_the_dispatch_table() {
        for (nr, name, status) in rows() {
            let served = IMPLEMENTED.iter().any(|(n, _, _)| *n == nr);
            if served {
                assert!(
                    ["yes", "partial", "no-op"].contains(&status.as_str()),
                    "{name} ({nr}) is served but listed as {status}"
                );
            } else {
                assert_eq!(status, "ENOSYS", "{name} ({nr}) is not in the dispatch table");
            }
        }
    }
}
