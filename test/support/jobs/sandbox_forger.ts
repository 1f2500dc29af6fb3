/**
 * A job whose graph building answers for the graph sandbox: it writes a made-up job structure
 * (the `forge` argument: "huge" parallelism, or "inconsistent" slot counts) to stdout as the
 * sandbox's reply and exits, as code that wants a JobManager to act on a lie would.
 */
import { encode } from "cbor-x";
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "sandbox-forger" }, (env) => {
  const huge = env.arg("forge") === "huge";
  const vertex = {
    id: "v",
    name: "forged",
    parallelism: huge ? 1_000_000 : 2,
    maxParallelism: huge ? 1_000_000 : 128,
    fixedParallelism: false,
    slotSharingGroup: "default",
    resources: {},
    operators: [],
    source: { kind: "collection" },
  };
  const topology = {
    options: {
      name: "forged",
      parallelism: 1,
      maxParallelism: 128,
      checkpointing: null,
      restartStrategy: { type: "none" },
      bufferTimeoutMs: 50,
    },
    vertices: [vertex],
    edges: [],
    // Two vertices' worth of slots for a vertex of parallelism 2: not what its vertices need.
    slotSharingGroups: [
      {
        name: "default",
        slots: huge ? 1_000_000 : 64,
        profile: { cpu: 0, memoryMb: 0, extended: {} },
      },
    ],
  };
  process.stdout.write(encode({ topology }));
  process.exit(0);
  return env.source(sources.collection([1])).sink(sinks.discard());
});
