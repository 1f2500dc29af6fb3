/**
 * What the CLI's modules share, so none imports another command module for it: how a command
 * prints and how it exits. No imports: `--help` and `version` load this and cac only.
 */

export const EXIT = { ok: 0, failed: 1, canceled: 2, usage: 64 } as const;
export const EXIT_USAGE = EXIT.usage;

/** What cac hands an action after its positional arguments: the parsed options. */
export type Flags = Record<string, unknown>;

export interface Output {
  json: boolean;
  line(text: string): void;
  event(value: unknown): void;
}

export interface ProgramIo {
  out: Output;
  verbose: boolean;
  /** Prints `flotilla: <message>` to stderr and exits with `code`. */
  fail(message: string, code?: number): never;
  exit(code: number): never;
}
