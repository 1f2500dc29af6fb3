/**
 * The election when NATS goes away: a leader whose renewals fail (server paused with SIGSTOP, or
 * killed) steps down before its lease ends; after the server is back a new term starts with a
 * higher token, and resigning is fast again (watches are re-established).
 */
import t, { type Test } from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import { natsHaServices } from "../../../components/ha/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";
import { firstElected } from "../../unit/ha/contender.ts";
import type { ElectionHarness } from "../../unit/ha/election_contract.ts";
import { contender, LEASE_MS } from "../../unit/ha/election_contract.ts";

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
    const a = (await contender(t, harness, "rm", "a")).start();
    const { token: first } = await firstElected([a], 5000);
    const b = (await contender(t, harness, "rm", "b")).start();
    await new Promise((r) => setTimeout(r, 400));

    const pausedAt = performance.now();
    process.kill(server.pid(), "SIGSTOP");
    let resumed = false;
    t.teardown(() => {
      if (!resumed) process.kill(server.pid(), "SIGCONT");
    });
    const revoked = await a.next("revoked", LEASE_MS * 2);
    t.ok(
      revoked.at - pausedAt < LEASE_MS,
      `stepped down ${Math.round(revoked.at - pausedAt)} ms into the pause, within the ${LEASE_MS} ms lease`,
    );
    t.match(revoked.reason, /could not renew the lease of rm/);
    t.notOk(revoked.isLeaderInside, "isLeader() is already false inside onRevoked");
    t.equal(revoked.tokenInside, undefined);
    t.notOk(a.election.isLeader());
    t.throws(() => a.election.fence(), { code: ErrorCode.STALE_LEADER });
    t.equal(b.count("elected"), 0, "nobody else was elected while the server was paused");

    await new Promise((r) => setTimeout(r, 200));
    process.kill(server.pid(), "SIGCONT");
    resumed = true;
    const next = await firstElected([a, b], LEASE_MS * 5);
    t.ok(next.at > revoked.at);
    t.ok(next.token > first, `new term's token ${next.token} > ${first}`);
  },
);

t.test("server killed and restarted: step down, re-election, fast resign again", async (t) => {
  const { server, harness } = await setup(t);
  const a = (await contender(t, harness, "dispatcher", "a")).start();
  const { token: first } = await firstElected([a], 5000);
  const b = (await contender(t, harness, "dispatcher", "b")).start();
  await new Promise((r) => setTimeout(r, 400));

  const killedAt = performance.now();
  await server.kill();
  const revoked = await a.next("revoked", LEASE_MS * 2);
  t.ok(
    revoked.at - killedAt < LEASE_MS,
    `stepped down ${Math.round(revoked.at - killedAt)} ms after the kill`,
  );
  const leaderCall = performance.now();
  await t.rejects(a.election.leader(), { code: ErrorCode.UNAVAILABLE }, "leader() fails typed");
  t.ok(performance.now() - leaderCall < 2500, "and does not hang");

  await server.start();
  const second = await firstElected([a, b], 15_000);
  t.ok(second.token > first, `token ${second.token} > ${first} after the restart`);
  t.equal(
    [a, b].filter((c) => c.election.isLeader()).length,
    1,
    "exactly one leader after the restart",
  );

  // The standby's watch works again: a resign hands over at once.
  const standby = second.leader === a ? b : a;
  await new Promise((r) => setTimeout(r, 600)); // the watch is re-established after the reconnect
  const stoppedAt = performance.now();
  await second.leader.election.stop();
  const third = await standby.next("elected", 5000);
  t.ok(third.at - stoppedAt < 500, `handed over in ${Math.round(third.at - stoppedAt)} ms`);
  t.ok(third.token! > second.token);
});
