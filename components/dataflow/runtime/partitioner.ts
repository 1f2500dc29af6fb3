/** Which downstream instance(s) a record goes to, per edge partitioning. */
import { Partitioning } from "../graph/nodes.ts";
import { keyGroupOf, subtaskForKeyGroup } from "../state/key_groups.ts";

export interface Partitioner {
  /** Target subtask for a record, or -1 for every target (broadcast). */
  select(value: unknown): number;
}

export function createPartitioner(
  partitioning: Partitioning,
  {
    subtask,
    targets,
    maxParallelism,
    keySelector,
  }: {
    subtask: number;
    targets: number;
    maxParallelism: number;
    keySelector?: (value: unknown) => unknown;
  },
): Partitioner {
  switch (partitioning) {
    case Partitioning.FORWARD:
      return { select: () => subtask };
    case Partitioning.BROADCAST:
      return { select: () => -1 };
    case Partitioning.REBALANCE: {
      let next = subtask % targets;
      return {
        select: () => {
          const t = next;
          next = next + 1 === targets ? 0 : next + 1;
          return t;
        },
      };
    }
    case Partitioning.HASH: {
      if (!keySelector) throw new Error("hash partitioning needs a key selector");
      return {
        select: (value) =>
          subtaskForKeyGroup(
            keyGroupOf(keySelector(value), maxParallelism),
            targets,
            maxParallelism,
          ),
      };
    }
  }
}
