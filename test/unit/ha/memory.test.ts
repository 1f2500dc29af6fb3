/** The election and store contracts on the in-memory implementations (the embedded MiniCluster's). */
import t from "tap";
import { memoryHaServices, memoryLeaderRegistry } from "../../../components/ha/mod.ts";
import { electionContract } from "./election_contract.ts";
import { storeContract } from "./store_contract.ts";

t.test("memory leader election", async (t) => {
  electionContract(t, async () => {
    const registry = memoryLeaderRegistry();
    return { services: async () => memoryHaServices({ registry }) };
  });
});

t.test("memory stores", async (t) => {
  storeContract(t, async () => memoryHaServices());
});
