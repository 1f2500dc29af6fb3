/**
 * The leader election contract, written once and run against every implementation (memory here,
 * JetStream KV in test/integration/ha): races, resigning, dying, tokens, fences.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Test } from "tap";
import { ErrorCode, StaleLeaderError, subjects } from "../../../components/core/mod.ts";
import type { HaServices, LeaderElectionOptions } from "../../../components/ha/mod.ts";
import { Contender, firstElected } from "./contender.ts";
import { sampleJob } from "./store_contract.ts";

export const LEASE_MS = 1000;
export const RENEW_MS = 200;

export interface ElectionHarness {
  /** HA services on one backend shared by every call (a new NATS connection each, for NATS). */
  services(): Promise<HaServices>;
}

export async function contender(
  t: Test,
  harness: ElectionHarness,
  role: string,
  holder: string,
  options: Partial<LeaderElectionOptions> = {},
): Promise<Contender> {
  const services = await harness.services();
  const election = services.election({
    role,
    holder,
    subject: subjects.leader("test", holder),
    leaseMs: LEASE_MS,
    renewMs: RENEW_MS,
    ...options,
  });
  t.teardown(() => election.stop());
  return new Contender(election);
}

export function electionContract(t: Test, setup: (t: Test) => Promise<ElectionHarness>): void {
  t.test("two contenders race for one role: exactly one leads, the other stands by", async (t) => {
    const h = await setup(t);
    const a = await contender(t, h, "dispatcher", "a");
    const b = await contender(t, h, "dispatcher", "b");
    a.start();
    b.start();
    const { leader, token } = await firstElected([a, b], 5000);
    const standby = leader === a ? b : a;
    // A watch, not a wait: two lease lengths in which a second leader would show up.
    await sleep(LEASE_MS * 2);
    t.equal(a.count("elected") + b.count("elected"), 1, "one election in all");
    t.equal(a.count("revoked") + b.count("revoked"), 0, "nobody stepped down");
    t.ok(leader.election.isLeader());
    t.equal(leader.election.token(), token);
    t.notOk(standby.election.isLeader(), "the other is a standby");
    t.equal(standby.election.token(), undefined);
    t.throws(() => standby.election.fence(), StaleLeaderError);
    t.match(await standby.election.leader(), {
      holder: leader.holder,
      subject: subjects.leader("test", leader.holder),
      token,
      term: 1,
    });
  });

  t.test(
    "the leader resigns: the standby is elected at once, not when the lease ends",
    async (t) => {
      const h = await setup(t);
      // A lease far longer than the wait below: b can only be elected through the resign.
      const long = { leaseMs: 60_000, renewMs: RENEW_MS };
      const a = (await contender(t, h, "resourcemanager", "a", long)).start();
      const { token: first } = await firstElected([a], 5000);
      const b = (await contender(t, h, "resourcemanager", "b", long)).start();
      // A watch that missed the resign would leave b waiting out the 60 s lease.
      await b.election.watching(5000);
      t.equal(b.count("elected"), 0);
      await a.election.stop();
      const elected = await b.next("elected", 5000);
      t.ok(elected.token! > first, `token ${elected.token} > ${first}`);
      const revoked = a.events.find((e) => e.kind === "revoked");
      t.ok(revoked, "the old leader was told");
      t.notOk(revoked?.isLeaderInside, "isLeader() is false inside onRevoked");
      t.equal(revoked?.tokenInside, undefined, "no token inside onRevoked");
      t.ok(revoked!.at <= elected.at, "stepped down before the successor was elected");
      t.match(await b.election.leader(), { holder: "b", token: elected.token, term: 2 });
    },
  );

  t.test(
    "watching(): resolves once the contender watches its lease, rejects once stopped",
    async (t) => {
      const h = await setup(t);
      const a = (await contender(t, h, "resourcemanager", "a")).start();
      await a.election.watching(5000);
      t.pass("the watch is live");
      await a.election.stop();
      await t.rejects(
        a.election.watching(5000),
        { code: ErrorCode.CONFLICT },
        "never, once stopped",
      );
    },
  );

  t.test("a leader that dies is replaced after its lease runs out, by one standby", async (t) => {
    const h = await setup(t);
    const a = (await contender(t, h, "jm.job-1", "a")).start();
    const { token: first } = await firstElected([a], 5000);
    const b = (await contender(t, h, "jm.job-1", "b")).start();
    const c = (await contender(t, h, "jm.job-1", "c")).start();
    await a.election.stop({ resign: false }); // no more renewals, and the lease stays
    const dead = await b.election.leader();
    t.match(dead, { holder: "a", token: first }, "the dead leader's lease outlives it");
    t.equal(b.count("elected") + c.count("elected"), 0, "nobody took it at once");
    const { leader, token } = await firstElected([b, c], LEASE_MS * 4);
    const elected = leader.events.find((e) => e.kind === "elected")!;
    t.ok(
      elected.wallAt >= dead!.expiresAt,
      "elected only once the dead leader's lease had run out",
    );
    t.ok(token > first, `token ${token} > ${first}`);
    // Both standbys found the same stale lease: only one compare-and-set on it can win. A watch,
    // not a wait: a second winner would show up within a lease length.
    await sleep(LEASE_MS);
    t.equal(b.count("elected") + c.count("elected"), 1, `only ${leader.holder} took over`);
    t.equal(leader.count("revoked"), 0);
  });

  t.test("a lease held under an outer lease is taken over at once by its holder", async (t) => {
    const h = await setup(t);
    let aHolds = true;
    let bHolds = false;
    // a's lease is far longer than the waits below: taking it over means "at once".
    const a = (
      await contender(t, h, "resourcemanager", "a", {
        under: { lease: "master", held: () => aHolds },
        leaseMs: 60_000,
        renewMs: RENEW_MS,
      })
    ).start();
    const { token: first } = await firstElected([a], 5000);
    await a.election.stop({ resign: false }); // a dies: its lease stays
    aHolds = false;
    const plain = (await contender(t, h, "resourcemanager", "plain")).start();
    const b = (
      await contender(t, h, "resourcemanager", "b", {
        under: { lease: "master", held: () => bHolds },
      })
    ).start();
    await sleep(RENEW_MS * 2); // a watch, not a wait: nobody may take it meanwhile
    t.equal(
      b.count("elected") + plain.count("elected"),
      0,
      "nobody takes it early without the outer lease",
    );
    bHolds = true; // b wins the outer lease now: a's term under it is over
    const { leader, token } = await firstElected([b, plain], 5000);
    t.equal(leader.holder, "b", "the holder of the outer lease took it over, 60 s before its end");
    t.ok(token > first, `token ${token} > ${first}`);
    // A contender without the outer lease never preempts b, whose lease is under it too. A
    // watch, not a wait: one and a half of b's lease lengths.
    await sleep(LEASE_MS * 1.5);
    t.equal(plain.count("elected"), 0, "the plain contender waited (b renews)");
    t.equal(b.count("revoked"), 0);
  });

  t.test("fencing tokens strictly increase across terms", async (t) => {
    const h = await setup(t);
    const pool = [
      (await contender(t, h, "dispatcher", "c0")).start(),
      (await contender(t, h, "dispatcher", "c1")).start(),
    ];
    const tokens: number[] = [];
    const terms: number[] = [];
    for (let term = 0; term < 4; term++) {
      const { leader, token } = await firstElected(pool, LEASE_MS * 4);
      tokens.push(token);
      terms.push((await leader.election.leader())!.term);
      // The leader resigns and a fresh contender joins, so two always contend.
      pool.splice(pool.indexOf(leader), 1);
      await leader.election.stop();
      pool.push((await contender(t, h, "dispatcher", `c${term + 2}`)).start());
    }
    for (let i = 1; i < tokens.length; i++) {
      t.ok(tokens[i]! > tokens[i - 1]!, `token ${tokens[i]} > ${tokens[i - 1]}`);
    }
    // Terms are informational (the last term a contender saw, plus one): a resigned lease is
    // deleted, so a new contender may not know the previous term. Order comes from the tokens.
    t.ok(
      terms.every((term) => Number.isInteger(term) && term >= 1),
      `terms are positive integers: ${terms.join(", ")}`,
    );
  });

  t.test("a deposed leader's fence refuses its writes with STALE_LEADER", async (t) => {
    const h = await setup(t);
    const services = await h.services();
    const a = (await contender(t, h, "dispatcher", "a")).start();
    await firstElected([a], 5000);
    const fence = a.election.fence();
    t.equal(fence.token, a.election.token());
    t.equal(fence.role, "dispatcher");
    await fence.check();
    await services.jobGraphs.put(sampleJob("while-leading"), { fence });

    const b = (await contender(t, h, "dispatcher", "b")).start();
    await a.election.stop();
    await b.next("elected", 3000);
    await t.rejects(fence.check(), { code: ErrorCode.STALE_LEADER });
    await t.rejects(services.jobGraphs.put(sampleJob("after-deposed"), { fence }), {
      code: ErrorCode.STALE_LEADER,
      message: /no longer leads dispatcher/,
    });
    t.equal(await services.jobGraphs.find("after-deposed"), undefined, "nothing was written");
    t.ok(await services.jobGraphs.find("while-leading"));
    t.throws(() => a.election.fence(), { code: ErrorCode.STALE_LEADER });
    await b.election.fence().check();
  });

  t.test("roles are independent; leader() is undefined when nobody leads", async (t) => {
    const h = await setup(t);
    const x = (await contender(t, h, "jm.job/1", "x")).start();
    const y = (await contender(t, h, "jm.job.2", "y")).start();
    await Promise.all([firstElected([x], 5000), firstElected([y], 5000)]);
    t.ok(x.election.isLeader() && y.election.isLeader(), "each role has its own leader");
    const observer = await contender(t, h, "jm.job/1", "observer"); // never started
    t.equal((await observer.election.leader())?.holder, "x");
    await x.election.stop();
    t.equal(await observer.election.leader(), undefined, "after the resign nobody leads");
    t.ok(y.election.isLeader(), "the other role is untouched");
    await x.election.stop(); // a second stop is harmless
    t.throws(() => x.start(), { code: ErrorCode.CONFLICT }, "a stopped election cannot restart");
  });
}
