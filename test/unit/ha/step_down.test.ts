/**
 * The election's safety on a store that misbehaves for one contender only (the memory store behind
 * a wrapper): a leader that cannot renew steps down before its lease ends and before anyone else
 * is elected; a renewal whose acknowledgement was lost does not cost the leadership. Every
 * contender runs on one manual clock, so "before" and "after" are exact, whatever the load.
 */
import t, { type Test } from "tap";
import { ErrorCode, leaderKey, UnavailableError } from "../../../components/core/mod.ts";
import type { HaKv, KvCallOptions, KvChange, KvWatchOptions } from "../../../components/ha/kv.ts";
import { LeaseElection } from "../../../components/ha/lease_election.ts";
import { MemoryKv } from "../../../components/ha/memory_kv.ts";
import { ManualClock } from "../../support/clock.ts";
import { Contender } from "./contender.ts";

const LEASE_MS = 1000;
const RENEW_MS = 200;

/** Passes calls through, except: while paused every call hangs; `dropNextAck` loses one reply. */
class FaultyKv implements HaKv {
  readonly location = "faulty memory";
  paused = false;
  dropNextAck = false;
  #resume: Array<() => void> = [];
  readonly #inner: HaKv;

  constructor(inner: HaKv) {
    this.#inner = inner;
  }

  resume(): void {
    this.paused = false;
    for (const go of this.#resume.splice(0)) go();
  }

  async #gate(): Promise<void> {
    if (this.paused) await new Promise<void>((resolve) => this.#resume.push(resolve));
  }

  async get(key: string, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.get(key, o);
  }
  async put(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.put(key, value, o);
  }
  async create(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.create(key, value, o);
  }
  async update(key: string, value: Uint8Array, revision: number, o?: KvCallOptions) {
    await this.#gate();
    const written = await this.#inner.update(key, value, revision, o);
    if (this.dropNextAck) {
      this.dropNextAck = false;
      throw new UnavailableError("the reply was lost (test)");
    }
    return written;
  }
  async delete(key: string, o?: KvCallOptions & { revision?: number }) {
    await this.#gate();
    return this.#inner.delete(key, o);
  }
  async forget(key: string, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.forget(key, o);
  }
  async keys(prefix: string, o?: KvCallOptions) {
    await this.#gate();
    return this.#inner.keys(prefix, o);
  }
  watch(key: string, onChange: (change: KvChange) => void, options?: KvWatchOptions) {
    return this.#inner.watch(
      key,
      (change) => {
        if (!this.paused) onChange(change);
      },
      options,
    );
  }
}

function contender(t: Test, clock: ManualClock, kv: HaKv, holder: string): Contender {
  const election = new LeaseElection(kv, {
    role: "resourcemanager",
    holder,
    leaseMs: LEASE_MS,
    renewMs: RENEW_MS,
    clock,
  });
  t.teardown(() => election.stop());
  return new Contender(election, clock);
}

/** The first `elected` event from now on of any of `contenders`, moving the clock 10 ms a step. */
async function firstElected(clock: ManualClock, contenders: Contender[], maxMs: number) {
  const before = contenders.map((c) => c.count("elected"));
  const first = () =>
    contenders
      .flatMap((c, i) =>
        c.events
          .filter((e) => e.kind === "elected")
          .slice(before[i])
          .map((e) => ({ c, e })),
      )
      .sort((x, y) => x.e.at - y.e.at)[0];
  for (let moved = 0; !first(); moved += 10) {
    if (moved > maxMs) throw new Error(`nobody was elected within ${maxMs} ms (manual clock)`);
    await clock.advance(10);
  }
  const { c, e } = first()!;
  return { leader: c, token: e.token!, at: e.at };
}

/** Moves the clock 10 ms at a time until `contender` has a `kind` event; returns it. */
async function next(clock: ManualClock, c: Contender, kind: "elected" | "revoked", maxMs: number) {
  const before = c.count(kind);
  for (let moved = 0; c.count(kind) === before; moved += 10) {
    if (moved > maxMs) throw new Error(`no ${kind} event of ${c.holder} within ${maxMs} ms`);
    await clock.advance(10);
  }
  return c.events.filter((e) => e.kind === kind)[before]!;
}

t.test(
  "a leader that cannot renew steps down before its lease ends and before a successor",
  async (t) => {
    const clock = new ManualClock();
    const shared = new MemoryKv();
    const faulty = new FaultyKv(shared);
    const a = contender(t, clock, faulty, "a").start();
    await firstElected(clock, [a], 2000);
    const b = contender(t, clock, shared, "b").start();
    await clock.advance(RENEW_MS * 2); // b stands by, having seen a's renewals

    const pausedAt = clock.monotonic();
    faulty.paused = true; // a's renewals hang from now on; b still sees the store
    const revoked = await next(clock, a, "revoked", LEASE_MS * 2);
    const elected = await next(clock, b, "elected", LEASE_MS * 3);
    t.ok(
      revoked.at < pausedAt + LEASE_MS,
      `stepped down ${Math.round(revoked.at - pausedAt)} ms after the store went away, within the ${LEASE_MS} ms lease`,
    );
    t.ok(revoked.at > pausedAt + LEASE_MS - RENEW_MS * 2, "not long before it had to");
    t.match(revoked.reason, /could not renew the lease of resourcemanager within 1000 ms/);
    t.notOk(revoked.isLeaderInside);
    t.ok(
      elected.at > revoked.at,
      "the successor was elected only after the old leader stepped down",
    );
    t.ok(elected.token! > a.events[0]!.token!, "with a higher token");

    faulty.resume(); // a's hung renewal now lands on b's lease and fails; a stays a standby
    await clock.advance(RENEW_MS * 3);
    t.notOk(a.election.isLeader());
    t.ok(b.election.isLeader());
    t.equal(b.count("revoked"), 0);
  },
);

t.test("the hung renewal that lands after stepping down is released at once", async (t) => {
  const clock = new ManualClock();
  const shared = new MemoryKv();
  const faulty = new FaultyKv(shared);
  const a = contender(t, clock, faulty, "a").start();
  await firstElected(clock, [a], 2000);
  faulty.paused = true;
  await next(clock, a, "revoked", LEASE_MS * 2);
  // a's renewal still hangs; when it lands it extends a lease a no longer uses, so a deletes it.
  const b = contender(t, clock, shared, "b").start();
  await clock.advance(0);
  const resumedAt = clock.monotonic();
  faulty.resume();
  const elected = await firstElected(clock, [a, b], LEASE_MS * 3);
  t.ok(
    elected.at < resumedAt + LEASE_MS - RENEW_MS,
    `a new leader ${elected.at - resumedAt} ms later, without waiting out the lease that renewal wrote`,
  );
  t.ok(elected.token > a.events[0]!.token!, "a new term, not the released one");
});

t.test("a renewal whose reply was lost does not cost the leadership", async (t) => {
  const clock = new ManualClock();
  const faulty = new FaultyKv(new MemoryKv());
  const a = contender(t, clock, faulty, "a").start();
  const { token } = await firstElected(clock, [a], 2000);
  faulty.dropNextAck = true; // the write lands, the reply does not
  await clock.advance(RENEW_MS * 6);
  t.equal(a.count("revoked"), 0, "never stepped down");
  t.ok(a.election.isLeader());
  t.equal(a.election.token(), token, "the same term");
  t.notOk(faulty.dropNextAck, "a reply was really dropped");
});

/** Holds the first writes until `parties` of them are waiting, lets them go at once, then opens. */
class WriteBarrier {
  #waiting: Array<() => void> = [];
  #open = false;
  constructor(readonly parties: number) {}
  async arrive(): Promise<void> {
    if (this.#open) return;
    await new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      if (this.#waiting.length < this.parties) return;
      this.#open = true;
      for (const go of this.#waiting.splice(0)) go();
    });
  }
}

class RacingKv extends FaultyKv {
  readonly #barrier: WriteBarrier;
  constructor(inner: HaKv, barrier: WriteBarrier) {
    super(inner);
    this.#barrier = barrier;
  }
  override async put(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#barrier.arrive();
    return super.put(key, value, o);
  }
  override async create(key: string, value: Uint8Array, o?: KvCallOptions) {
    await this.#barrier.arrive();
    return super.create(key, value, o);
  }
  override async update(key: string, value: Uint8Array, revision: number, o?: KvCallOptions) {
    await this.#barrier.arrive();
    return super.update(key, value, revision, o);
  }
}

t.test("two standbys take over the same stale lease at once: exactly one wins", async (t) => {
  const clock = new ManualClock();
  const shared = new MemoryKv();
  const ghost = { holder: "ghost", subject: "", term: 7, expiresAt: clock.now() - 1, leaseMs: 100 };
  const stale = await shared.put(
    leaderKey("resourcemanager"),
    new TextEncoder().encode(JSON.stringify(ghost)),
  );
  const barrier = new WriteBarrier(2); // both claims are in flight before either lands
  const b = contender(t, clock, new RacingKv(shared, barrier), "b").start();
  const c = contender(t, clock, new RacingKv(shared, barrier), "c").start();
  const { leader, token } = await firstElected(clock, [b, c], LEASE_MS * 3);
  await clock.advance(RENEW_MS * 2);
  t.equal(b.count("elected") + c.count("elected"), 1, `only ${leader.holder} took over`);
  t.ok(token > stale);
  t.match(await leader.election.leader(), { holder: leader.holder, term: 8, token });
});

t.test("options are checked", async (t) => {
  const kv = new MemoryKv();
  t.throws(
    () =>
      new LeaseElection(kv, { role: "resourcemanager", holder: "a", leaseMs: 1000, renewMs: 950 }),
    {
      code: ErrorCode.INVALID_ARGUMENT,
      message: /renewMs \(950\) must be positive and under 90% of leaseMs \(1000\)/,
    },
  );
  t.throws(() => new LeaseElection(kv, { role: "", holder: "a" }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  const election = new LeaseElection(kv, { role: "resourcemanager", holder: "a" });
  election.start({ onElected() {}, onRevoked() {} });
  t.throws(() => election.start({ onElected() {}, onRevoked() {} }), { code: ErrorCode.CONFLICT });
  await election.stop();
});
