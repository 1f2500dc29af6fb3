/** The leader election contract on JetStream KV: each contender on its own connection, as in separate processes. */
import t from "tap";
import { natsHaServices } from "../../../components/ha/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";
import { electionContract } from "../../unit/ha/election_contract.ts";

electionContract(t, async (t) => {
  const server = await natsFor(t);
  return {
    services: async () => natsHaServices({ nc: await connectFor(t, server), clusterId: "test" }),
  };
});
