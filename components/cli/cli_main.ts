/** The flotilla CLI: parses argv with the program, maps unknown commands to exit 64. */
import { EXIT_USAGE, type Output } from "./io.ts";
import { program } from "./program.ts";

const argv = process.argv.slice(2);
const fail = (message: string, code = 1): never => {
  process.stderr.write(`flotilla: ${message}\n`);
  process.exit(code);
};
const json = argv.includes("--json");
const out: Output = {
  json,
  line: (text) => process.stdout.write(`${text}\n`),
  // Events are the --json output; people get lines instead.
  event: (value) => {
    if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
  },
};
const cli = program({
  out,
  verbose: argv.includes("--verbose"),
  fail,
  exit: (code) => process.exit(code),
});

try {
  cli.parse(process.argv, { run: false });
  if (!cli.matchedCommand && cli.args.length > 0)
    fail(`unknown command '${cli.args[0]}': see flotilla --help`, EXIT_USAGE);
  const asked = argv.some((a) => ["--help", "-h", "--version", "-v"].includes(a));
  if (!cli.matchedCommand && !asked) cli.outputHelp();
  await cli.runMatchedCommand();
} catch (err) {
  fail((err as Error).message, EXIT_USAGE);
}
