/**
 * A TaskManager's job process (see taskmanager/job_process/): it talks to its TaskManager on fd 3
 * and ends when the TaskManager closes that socket.
 */
import { Socket } from "node:net";
import type { LogLevel } from "../core/mod.ts";
import { runJobProcess } from "../taskmanager/mod.ts";

await runJobProcess(
  new Socket({ fd: 3, readable: true, writable: true }),
  (process.argv[3] as LogLevel | undefined) ?? "info",
);
process.exit(0);
