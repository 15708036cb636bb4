//! One-time notes for the user about what uvm's processes cannot do. The call itself fails
//! as it would on a Linux without the feature (ENOSYS, shown in the syscall trace); the note
//! says why, once per run, on the host's stderr next to uvm's own messages. Without it an app
//! that hides the error (a server that drops the connection it cannot fork for) fails silently.

use alloc::format;
use alloc::string::String;

use super::names::linux_name;

/// The note for syscall `nr` having failed with ENOSYS, if it is a clone that asked for a new
/// process sharing what uvm's processes do not share.
pub fn process_note(nr: u64) -> Option<String> {
    if !matches!(nr, 56 | 435) {
        return None;
    }
    let name = linux_name(nr)?;
    Some(format!(
        "uvm: note: the app called {name} to start a process that shares its fd table, signal \
         handlers or working directory with its parent, which uvm does not serve: the call \
         failed with ENOSYS (noted once per run)\n"
    ))
}

/// The note for an execve of `path`, a dynamically linked program, which Linux would have run
/// through its interpreter.
pub fn dynamic_program_note(path: &[u8]) -> String {
    let path = String::from_utf8_lossy(path);
    format!(
        "uvm: note: the app ran {path}, which is dynamically linked; uvm runs static programs only: \
         execve failed with ENOEXEC (noted once per run)\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_process_gets_a_note_naming_the_call() {
        let clone = process_note(56).expect("clone");
        assert!(clone.starts_with("uvm: note: the app called clone to start a process that shares"), "{clone}");
        assert!(clone.ends_with("ENOSYS (noted once per run)\n"), "{clone}");
        assert!(process_note(435).expect("clone3").contains("clone3 to start a process"));
        assert_eq!(process_note(57), None, "fork is served");
    }

    #[test]
    fn an_exec_note_names_the_file_and_the_reason() {
        assert_eq!(
            dynamic_program_note(b"/bin/ls"),
            "uvm: note: the app ran /bin/ls, which is dynamically linked; uvm runs static programs only: \
             execve failed with ENOEXEC (noted once per run)\n"
        );
    }

    #[test]
    fn other_calls_get_none() {
        // execve and execveat run the program in this process (`syscall::exec`).
        for nr in [0, 1, 59, 60, 231, 322, 100_000] {
            assert_eq!(process_note(nr), None, "{nr}");
        }
    }
}
