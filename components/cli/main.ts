/**
 * The `flotilla` executable: the CLI (cli_main.ts), or, as the hidden `graph-worker` command, a
 * Dispatcher's graph sandbox, which loads only what building a job's graph needs.
 */
import { GRAPH_WORKER_COMMAND } from "../core/mod.ts";

if (process.argv[2] === GRAPH_WORKER_COMMAND) await import("./graph_worker_main.ts");
else await import("./cli_main.ts");
