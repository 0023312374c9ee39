/** Whether a process with this id runs now; one of another user's counts too (kill(0) says EPERM). For leftovers named by their process id. */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
