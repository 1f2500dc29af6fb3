/**
 * The election when NATS goes away: a leader whose renewals fail (server paused with SIGSTOP, or
 * killed) steps down on its own, before anyone else is elected; after the server is back a new
 * term starts with a higher token, and a resign hands over at once again (watches are
 * re-established). How soon within its lease it steps down is asserted on a manual clock in
 * test/unit/ha/step_down.test.ts.
 */
import t, { type Test } from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import { natsHaServices } from "../../../components/ha/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";
import { firstElected } from "../../unit/ha/contender.ts";
import type { ElectionHarness } from "../../unit/ha/election_contract.ts";
import { contender, LEASE_MS, RENEW_MS } from "../../unit/ha/election_contract.ts";

const LONG_LEASE_MS = 8000;

async function setup(t: Test) {
  const server = await natsFor(t);
  const harness: ElectionHarness = {
    services: async () =>
      natsHaServices({ nc: await connectFor(t, server), clusterId: "test", timeoutMs: 1000 }),
  };
  return { server, harness };
}

t.test(
  "server paused (SIGSTOP): the leader steps down within its lease, then a new term",
  async (t) => {
    const { server, harness } = await setup(t);
    const a = (await contender(t, harness, "resourcemanager", "a")).start();
    const { token: first } = await firstElected([a], 5000);
    const b = (await contender(t, harness, "resourcemanager", "b")).start();

    process.kill(server.pid(), "SIGSTOP");
    let resumed = false;
    t.teardown(() => {
      if (!resumed) process.kill(server.pid(), "SIGCONT");
    });
    const revoked = await a.next("revoked", LEASE_MS * 2);
    t.match(
      revoked.reason,
      /could not renew the lease of resourcemanager/,
      "stepped down during the pause",
    );
    t.notOk(revoked.isLeaderInside, "isLeader() is already false inside onRevoked");
    t.equal(revoked.tokenInside, undefined);
    t.notOk(a.election.isLeader());
    t.throws(() => a.election.fence(), { code: ErrorCode.STALE_LEADER });
    t.equal(b.count("elected"), 0, "nobody else was elected while the server was paused");

    process.kill(server.pid(), "SIGCONT");
    resumed = true;
    const next = await firstElected([a, b], LEASE_MS * 5);
    t.ok(next.at > revoked.at);
    t.ok(next.token > first, `new term's token ${next.token} > ${first}`);
  },
);

t.test("server killed and restarted: step down, re-election, fast resign again", async (t) => {
  const { server, harness } = await setup(t);
  // A lease long enough that a standby elected before its written end was told by its watch.
  const options = { leaseMs: LONG_LEASE_MS, renewMs: RENEW_MS };
  const a = (await contender(t, harness, "dispatcher", "a", options)).start();
  const { token: first } = await firstElected([a], 5000);
  const b = (await contender(t, harness, "dispatcher", "b", options)).start();

  await server.kill();
  const revoked = await a.next("revoked", LONG_LEASE_MS * 2);
  t.match(revoked.reason, /could not renew the lease of dispatcher|connection/);
  // Within the services' call deadline (1 s), not hanging on the dead server.
  await t.rejects(a.election.leader(), { code: ErrorCode.UNAVAILABLE }, "leader() fails typed");

  await server.start();
  const second = await firstElected([a, b], LONG_LEASE_MS * 4);
  t.ok(second.token > first, `token ${second.token} > ${first} after the restart`);
  t.equal(
    [a, b].filter((c) => c.election.isLeader()).length,
    1,
    "exactly one leader after the restart",
  );

  // The standby's watch works again: a resign hands over at once.
  const standby = second.leader === a ? b : a;
  // The standby's watch is started again after the reconnect: once it is back, a resign reaches
  // it at once.
  await standby.election.watching(5000);
  const resigned = (await standby.election.leader())!;
  await second.leader.election.stop();
  const third = await standby.next("elected", LONG_LEASE_MS * 2);
  t.ok(
    third.wallAt < resigned.expiresAt,
    "handed over before the resigned lease would have run out: the watch saw the resign",
  );
  t.ok(third.token! > second.token);
});
