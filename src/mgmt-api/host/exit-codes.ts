// The exit statuses of every Typevisor command-line tool (tvctl, the hosted
// runner, the QEMU and Bochs launchers, the benchmarks), in one table.

import { constants } from "node:os";

export const EXIT = {
  /** done (a launcher stopped by its own --timeout counts as done) */
  OK: 0,
  /** the work failed: the server refused the request, the monitor panicked or stopped uncleanly, a benchmark failed */
  FAILED: 1,
  /** usage: unknown command or option, bad or missing value, unreadable input file; nothing was sent or booted */
  USAGE: 2,
  /** the other end is not there: no connection or no answer (tvctl), emulator or image missing (launchers) */
  UNAVAILABLE: 3,
  /** a bug: the hosted switch trapped, or an unexpected exception */
  INTERNAL: 70,
} as const;

/** Rows for docs and --help: status, meaning. */
export const EXIT_TABLE: Array<[string, string]> = [
  ["0", "done (a launcher stopped by its own --timeout counts as done)"],
  ["1", "failed: the server refused the request; the monitor panicked or did not shut down cleanly; a benchmark failed"],
  ["2", "usage error: unknown command or option, bad value, unreadable input file; nothing was sent or booted"],
  ["3", "unavailable: no connection or no answer (tvctl); emulator or image missing (launchers)"],
  ["70", "internal error (a bug): the hosted switch trapped, an unexpected exception"],
  ["128+N", "killed by signal N (named on stderr)"],
];

/** The exit-status paragraph of every tool's --help. */
export const EXIT_HELP = "Exit status:\n" + EXIT_TABLE.map(([c, m]) => `  ${c.padEnd(6)}${m}`).join("\n");

/** Exit status for a child that ended by `signal`, as a shell reports it (128 + number). */
export function signalStatus(signal: NodeJS.Signals): number {
  return 128 + ((constants.signals as Record<string, number>)[signal] ?? 0);
}

/** "exit status 3" or "killed by signal SIGKILL (9)": what a child process's end was, never "null". */
export function describeEnd(status: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by signal ${signal} (${(constants.signals as Record<string, number>)[signal] ?? "?"})`;
  return `exit status ${status}`;
}
