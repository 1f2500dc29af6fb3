/** The CLI's own list of roles (kept so `--help` does not load the cluster) matches the cluster's. */
import t from "tap";
import { ROLE_NAMES } from "../../../components/cli/program.ts";
import { ROLES } from "../../../components/cluster/mod.ts";

t.test("flotilla start knows exactly the cluster's roles", async (t) => {
  t.same([...ROLE_NAMES].sort(), [...ROLES].sort());
});
