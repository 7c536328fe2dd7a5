// The argument parser every Typevisor tool shares: commander, with its
// errors mapped onto the common exit statuses (exit-codes.ts).

import { Command, CommanderError, InvalidArgumentError } from "commander";
import { EXIT, EXIT_HELP } from "./exit-codes";

export { Command, Option, InvalidArgumentError } from "commander";

/** A usage error found after parsing (a combination of options, a bad value): exit status 2. */
export class UsageError extends Error {}

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const CLEAN_EXIT = new Set(["commander.helpDisplayed", "commander.version", "commander.help"]);

/**
 * Prepares `program` (before its subcommands are added, so they inherit it):
 * output through `io`, errors thrown instead of exiting, exit statuses in help.
 */
export function setupProgram(program: Command, io: CliIo): Command {
  program
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: (s) => io.err(s.replace(/\n$/, "")),
      outputError: (s, write) => write(`${program.name()}: ${s.replace(/^error: /, "").replace(/\n$/, "")}`),
    })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .configureHelp({ helpWidth: 100 })
    .addHelpText("after", "\n" + EXIT_HELP);
  return program;
}

/**
 * Once every command is defined: each one's parse errors name the command
 * typed ("tvctl port: unknown command 'frob'") and point at its help.
 */
export function finishProgram(program: Command, io: CliIo): Command {
  const visit = (c: Command) => {
    const path = commandPath(c);
    c.configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: (s) => io.err(s.replace(/\n$/, "")),
      outputError: (s, write) => write(`${path}: ${s.replace(/^error: /, "").replace(/\n$/, "")}\n(${path} --help for usage)`),
    });
    c.commands.forEach(visit);
  };
  visit(program);
  return program;
}

/**
 * Parses argv (user arguments, no node/script) and runs the action. Returns
 * the exit status: commander's own errors are usage errors (2), help and
 * --version are 0; a UsageError from an action is printed with a pointer to
 * the command's help. Other errors go to `onError`, which returns a status.
 */
export async function runProgram(program: Command, argv: string[], io: CliIo, onError: (e: unknown) => number = defaultError(io, program)): Promise<number> {
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.OK;
  } catch (e) {
    // help shown because a subcommand is missing ("tvctl port") comes with exit code 1: a usage error
    if (e instanceof CommanderError) return CLEAN_EXIT.has(e.code) && e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (e instanceof UsageError) {
      const where = (e as UsageError & { command?: string }).command ?? program.name();
      io.err(`${where}: ${e.message}\n(${where} --help for usage)`);
      return EXIT.USAGE;
    }
    return onError(e);
  }
}

function defaultError(io: CliIo, program: Command): (e: unknown) => number {
  return (e) => {
    io.err(`${program.name()}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILED;
  };
}

/** "tvctl port set": the command's full name, for messages. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** An option/argument parser for commander from a checker that throws UsageError: commander then names the option and the text typed. */
export function parser<T>(check: (s: string) => T): (s: string) => T {
  return (s: string) => {
    try {
      return check(s);
    } catch (e) {
      if (e instanceof UsageError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

/** An integer option/argument parser (min-max) for commander. */
export function intParser(what: string, min: number, max: number): (s: string) => number {
  return parser((s) => parseIntIn(s, what, min, max));
}

export function parseIntIn(s: string, what: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(s.trim())) throw new UsageError(`${what}: "${s}" is not an integer`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${what}: ${s} is not in ${min}-${max}`);
  return n;
}

/** Usage errors thrown inside an action carry the command they belong to. */
export function usageIn(cmd: Command, message: string): UsageError {
  const e = new UsageError(message) as UsageError & { command?: string };
  e.command = commandPath(cmd);
  return e;
}
