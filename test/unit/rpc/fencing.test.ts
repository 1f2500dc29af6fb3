import t from "tap";
import { StaleLeaderError } from "../../../components/core/mod.ts";
import { FencingTokens, fencingHeaders } from "../../../components/rpc/mod.ts";
import { echoBlock } from "../../support/echo_block.ts";

t.test("FencingTokens admits equal or newer tokens and rejects older ones per scope", (t) => {
  const tokens = new FencingTokens();
  tokens.admit(5, "resourcemanager");
  tokens.admit(5, "resourcemanager");
  tokens.admit(7, "resourcemanager");
  t.equal(tokens.current("resourcemanager"), 7);
  t.throws(() => tokens.admit(6, "resourcemanager"), StaleLeaderError);
  t.throws(
    () => tokens.admit(6, "resourcemanager"),
    /fencing token 6 for resourcemanager is older than the current leader's 7/,
  );
  tokens.admit(1, "jm.job-a");
  t.equal(tokens.current("jm.job-a"), 1, "scopes are independent");
  t.end();
});

t.test(
  "fenced route: newer token accepted, stale one 409 STALE_LEADER, missing or bad 400",
  async (t) => {
    const app = echoBlock(new FencingTokens());
    const post = (headers: Record<string, string>) =>
      app.request("/fenced", { method: "POST", headers });
    t.equal((await post(fencingHeaders(3))).status, 200);
    t.equal((await post(fencingHeaders(4))).status, 200, "a new leader takes over");
    const stale = await post(fencingHeaders(3));
    t.equal(stale.status, 409);
    t.equal((await stale.json()).code, "STALE_LEADER");
    const missing = await post({});
    t.equal(missing.status, 400);
    t.match((await missing.json()).errors[0], /missing flotilla-fencing-token/);
    t.equal((await post({ "flotilla-fencing-token": "soon" })).status, 400);
    t.equal((await post(fencingHeaders(4))).status, 200, "the current leader still gets through");
  },
);
