/**
 * A ResourceManager's lease held for a test, as an elected one holds it: a TaskManager answers
 * (and so registers with) only the RM whose fencing token the HA store's lease has.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { BlockRole } from "../../components/core/mod.ts";
import { natsHaServices } from "../../components/ha/mod.ts";
import type { Teardown } from "./tap.ts";

/** Elects "rm-test" for `clusterId` (stopped at teardown); resolves with its fencing token. */
export async function electedRmToken(
  t: Teardown,
  nc: NatsConnection,
  clusterId: string,
): Promise<number> {
  const ha = await natsHaServices({ nc, clusterId });
  const election = ha.election({
    role: BlockRole.RESOURCE_MANAGER,
    holder: "rm-test",
    leaseMs: 5000,
  });
  const token = await new Promise<number>((resolve) =>
    election.start({ onElected: resolve, onRevoked: () => {} }),
  );
  t.teardown(() => election.stop());
  return token;
}
