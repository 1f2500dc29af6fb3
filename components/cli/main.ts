/**
 * The `flotilla` executable: the CLI (cli_main.ts), or, as a hidden command, a process that runs
 * user code and loads only what that needs: `graph-worker` (a Dispatcher's graph sandbox) and
 * `job-process` (a TaskManager's job process).
 */
import { GRAPH_WORKER_COMMAND, JOB_PROCESS_COMMAND } from "../core/mod.ts";

if (process.argv[2] === GRAPH_WORKER_COMMAND) await import("./graph_worker_main.ts");
else if (process.argv[2] === JOB_PROCESS_COMMAND) await import("./job_process_main.ts");
else await import("./cli_main.ts");
