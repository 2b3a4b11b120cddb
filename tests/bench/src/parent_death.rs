//! Children that die with their parent: no run of the bench leaves a process behind, even when the
//! bench or floor-relay is killed. Shared by the bench (`mod parent_death`) and floor-relay
//! (included by path), which have no library between them.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the child killed when the thread that spawns it dies.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; the closure touches nothing else.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}
