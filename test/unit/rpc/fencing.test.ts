import t from "tap";
import { ErrorCode, StaleLeaderError, UnavailableError } from "../../../components/core/mod.ts";
import {
  FencingTokens,
  type FencingTokenVerifier,
  fencingHeaders,
} from "../../../components/rpc/mod.ts";
import { echoBlock } from "../../support/echo_block.ts";

const MADE_UP = Number.MAX_SAFE_INTEGER;

/** A verifier whose answers the test gives by hand, recording what it was asked. */
function manualVerifier() {
  const asked: Array<{ scope: string; token: number; answer(ok: boolean | Error): void }> = [];
  const verify: FencingTokenVerifier = (scope, token) =>
    new Promise((resolve, reject) =>
      asked.push({
        scope,
        token,
        answer: (ok) => (ok instanceof Error ? reject(ok) : resolve(ok)),
      }),
    );
  return { verify, asked };
}

/** A verifier backed by "the store": true only for the token of the current lease. */
function leaseVerifier(lease: { token: number }) {
  const reads: number[] = [];
  const verify: FencingTokenVerifier = async (_scope, token) => {
    reads.push(token);
    return token === lease.token;
  };
  return { verify, reads };
}

t.test("FencingTokens admits equal or newer tokens and rejects older ones per scope", async (t) => {
  const tokens = new FencingTokens();
  await tokens.admit(5, "resourcemanager");
  await tokens.admit(5, "resourcemanager");
  await tokens.admit(7, "resourcemanager");
  t.equal(tokens.current("resourcemanager"), 7);
  await t.rejects(tokens.admit(6, "resourcemanager"), StaleLeaderError);
  await t.rejects(
    tokens.admit(6, "resourcemanager"),
    /fencing token 6 for resourcemanager is older than the current leader's 7/,
  );
  await tokens.admit(1, "jm.job-a");
  t.equal(tokens.current("jm.job-a"), 1, "scopes are independent");
});

t.test("with a verifier a made-up high token is refused and never remembered", async (t) => {
  const lease = { token: 12 };
  const { verify, reads } = leaseVerifier(lease);
  const tokens = new FencingTokens({ verify });
  await tokens.admit(12, "resourcemanager");
  t.equal(tokens.current("resourcemanager"), 12, "the current lease's token is taken");
  await t.rejects(tokens.admit(MADE_UP, "resourcemanager"), {
    code: ErrorCode.STALE_LEADER,
    message: /fencing token 9007199254740991 for resourcemanager matches no current lease/,
  });
  t.equal(tokens.current("resourcemanager"), 12, "the made-up token was not remembered");
  await tokens.admit(12, "resourcemanager");
  t.same(reads, [12, MADE_UP], "the token already known is taken without a store read");
  await t.rejects(tokens.admit(11, "resourcemanager"), /older than the current leader's 12/);
  t.same(reads, [12, MADE_UP], "an older token is refused without a store read");

  lease.token = 20; // a new leader was elected
  await tokens.admit(20, "resourcemanager");
  t.equal(tokens.current("resourcemanager"), 20);
  await t.rejects(tokens.admit(12, "resourcemanager"), StaleLeaderError, "the old leader is out");
});

t.test("callers presenting the same new token share one verification", async (t) => {
  const { verify, asked } = manualVerifier();
  const tokens = new FencingTokens({ verify });
  const first = tokens.admit(8, "resourcemanager");
  const second = tokens.admit(8, "resourcemanager");
  const other = tokens.admit(8, "jm.job-a");
  t.same(
    asked.map(({ scope, token }) => ({ scope, token })),
    [
      { scope: "resourcemanager", token: 8 },
      { scope: "jm.job-a", token: 8 },
    ],
    "one check per scope and token",
  );
  t.equal(
    tokens.current("resourcemanager"),
    undefined,
    "nothing remembered before it is confirmed",
  );
  asked[0]!.answer(true);
  asked[1]!.answer(false);
  await Promise.all([first, second, t.rejects(other, StaleLeaderError)]);
  t.equal(tokens.current("resourcemanager"), 8);
  t.equal(tokens.current("jm.job-a"), undefined);
});

t.test("a failed verification refuses with its error and is tried again next time", async (t) => {
  const { verify, asked } = manualVerifier();
  const tokens = new FencingTokens({ verify });
  const first = tokens.admit(4);
  asked[0]!.answer(new UnavailableError("the HA store is away"));
  await t.rejects(first, { code: ErrorCode.UNAVAILABLE, message: /the HA store is away/ });
  t.equal(tokens.current(), undefined);
  const again = tokens.admit(4);
  t.equal(asked.length, 2, "asked again: a failure is not remembered either way");
  asked[1]!.answer(true);
  await again;
  t.equal(tokens.current(), 4);
});

t.test("a verifier that throws at once refuses the call and frees its place", async (t) => {
  const tokens = new FencingTokens({
    verify: () => {
      throw new UnavailableError("no store");
    },
    maxVerifying: 1,
  });
  await t.rejects(tokens.admit(3), /no store/);
  await t.rejects(tokens.admit(3), /no store/, "not refused as too many checks in flight");
});

t.test("confirmed out of order: the lower token is refused, never set back", async (t) => {
  const { verify, asked } = manualVerifier();
  const tokens = new FencingTokens({ verify });
  const older = tokens.admit(5);
  const newer = tokens.admit(9);
  asked[1]!.answer(true);
  await newer;
  asked[0]!.answer(true);
  await t.rejects(older, /fencing token 5 is older than the current leader's 9/);
  t.equal(tokens.current(), 9);
});

t.test("the checks in flight per scope are bounded", async (t) => {
  const { verify, asked } = manualVerifier();
  const tokens = new FencingTokens({ verify, maxVerifying: 2 });
  const pending = [tokens.admit(100), tokens.admit(101)];
  await t.rejects(tokens.admit(102), {
    code: ErrorCode.UNAVAILABLE,
    message: /2 fencing tokens are being checked against the HA store already; retry shortly/,
  });
  t.equal(asked.length, 2, "the third was not sent to the store");
  const elsewhere = tokens.admit(102, "other");
  t.equal(asked.length, 3, "another scope has its own bound");
  const refused = [...pending, elsewhere].map((admit) => t.rejects(admit, StaleLeaderError));
  for (const check of asked) check.answer(false);
  await Promise.all(refused);
  const later = tokens.admit(102);
  t.equal(asked.length, 4, "room again once the checks are done");
  asked[3]!.answer(true);
  await later;
  t.equal(tokens.current(), 102);
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

t.test("fenced route with a verifier: a made-up token 409, the leader unaffected", async (t) => {
  const { verify } = leaseVerifier({ token: 4 });
  const app = echoBlock(new FencingTokens({ verify }));
  const post = (token: number) =>
    app.request("/fenced", { method: "POST", headers: fencingHeaders(token) });
  const forged = await post(MADE_UP);
  t.equal(forged.status, 409);
  const body = await forged.json();
  t.equal(body.code, "STALE_LEADER");
  t.match(body.errors[0], /matches no current lease in the HA store/);
  const leader = await post(4);
  t.equal(leader.status, 200, "the real leader's token is not shut out by the made-up one");
  t.same(await leader.json(), { accepted: 4 });
});
