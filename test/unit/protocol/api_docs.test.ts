import { readFileSync } from "node:fs";
import t from "tap";
import { DISPATCHER_API } from "../../../components/protocol/mod.ts";
import { dispatcherRouteNames, withApiTable } from "../../../scripts/api-docs.ts";

t.test(
  "every route of the Dispatcher is in its API reference, and the README's is current",
  (t) => {
    const routes = dispatcherRouteNames();
    t.same(
      routes.filter((route) => !(route in DISPATCHER_API)),
      [],
      "routes without an entry in components/protocol/dispatcher_api.ts",
    );
    t.same(
      Object.keys(DISPATCHER_API).filter((route) => !routes.includes(route)),
      [],
      "entries for routes the Dispatcher does not serve",
    );
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    t.equal(withApiTable(readme), readme, "stale: run `npm run docs:api`");
    t.end();
  },
);
