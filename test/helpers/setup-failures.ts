import t from 'tap';

/**
 * For a test file that sets up at top level (await before its first t.test): a setup step that throws
 * becomes a failing test with the error in the TAP stream. Otherwise Node prints it to stderr and tap
 * reports only "no tests found", which is all a CI excerpt shows.
 */
export function reportSetupFailures(): void {
  process.once('uncaughtException', (error) => {
    t.fail(`setup failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    t.end();
  });
}
