//! One-time notes for the user about what a VM of one process cannot do. The call itself fails
//! as it would on a Linux without the feature (ENOSYS, shown in the syscall trace); the note
//! says why, once per run, on the host's stderr next to uvm's own messages. Without it an app
//! that hides the error (a server that drops the connection it cannot fork for) fails silently.

use alloc::format;
use alloc::string::String;

use super::names::linux_name;

/// What the app wanted, for the calls a VM of one process refuses with ENOSYS: `clone` and
/// `clone3` refuse only a new process (threads are served), the others always.
fn wanted(nr: u64) -> Option<&'static str> {
    match nr {
        56 | 57 | 58 | 435 => Some("start another process"),
        _ => None,
    }
}

/// The note for syscall `nr` having failed with ENOSYS, if it is one a VM of one process
/// refuses by design (not just one uvm does not serve yet).
pub fn one_process_note(nr: u64) -> Option<String> {
    let what = wanted(nr)?;
    let name = linux_name(nr)?;
    Some(format!(
        "uvm: note: the app called {name} to {what}, but a uvm VM runs one process: the call \
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
    fn process_creation_and_exec_get_a_note_naming_the_call() {
        let fork = one_process_note(57).expect("fork");
        assert!(fork.starts_with("uvm: note: the app called fork to start another process"), "{fork}");
        assert!(fork.ends_with("ENOSYS (noted once per run)\n"), "{fork}");
        assert!(one_process_note(435).expect("clone3").contains("clone3 to start another process"));
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
            assert_eq!(one_process_note(nr), None, "{nr}");
        }
    }
}
