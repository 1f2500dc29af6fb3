/** The graph sandbox's process (see dataflow/runtime/graph_worker.ts): one request, one reply. */
import { runGraphWorker } from "../dataflow/internal_mod.ts";

await runGraphWorker(
  process.stdin,
  (bytes) =>
    new Promise((resolve, reject) =>
      process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())),
    ),
);
process.exit(0);
