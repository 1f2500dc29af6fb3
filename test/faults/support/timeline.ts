/**
 * What a job looked like from outside during a fault run: its details sampled every 50 ms
 * through whichever master answers, and the faults injected. From the two: how long each fault
 * took to recover (fault -> RUNNING again: every task of a new attempt running) and whether the
 * job was healthy again (RUNNING with a checkpoint completed after the last fault).
 */

import { isJobEnd, JobState, subjects } from "../../../components/core/mod.ts";
import type { FlinkJobStatus, JobDetailsInfo } from "../../../components/protocol/mod.ts";
import type { FaultCluster } from "./cluster.ts";

export interface Sample {
  at: number;
  state: FlinkJobStatus;
  /** Undefined once the job ended (an ended job's details name no attempt). */
  attempt: number | undefined;
  /** Every task of the attempt is running. */
  running: boolean;
  lastCheckpoint?: { id: number; timestamp: number };
  /** Records into the vertices, summed (progress, for post-mortems). */
  recordsIn: number;
}

export interface Fault {
  at: number;
  what: string;
  /**
   * The job must restart (a new attempt) to recover. False for faults it may ride out (a NATS
   * restart): then it has recovered once it runs and has checkpointed since the fault.
   * @default true
   */
  restart?: boolean;
}

export interface Recovery {
  fault: Fault;
  /** ms from the fault to RUNNING again; undefined when it never came. */
  ms: number | undefined;
}

export function sampleOf(at: number, d: JobDetailsInfo): Sample {
  const running =
    d.state === JobState.RUNNING &&
    d.vertices.every((v) => {
      const total = Object.values(v.tasks).reduce((a, b) => a + b, 0);
      return total > 0 && v.tasks.RUNNING === total;
    });
  const { attempt, lastCheckpoint } = d.flotilla;
  return {
    at,
    state: d.state,
    attempt,
    running,
    ...(lastCheckpoint ? { lastCheckpoint } : {}),
    recordsIn: d.vertices.reduce((n, v) => n + v.metrics["read-records"], 0),
  };
}

/** How many processes answered the job's JobManager subject and the RM subject at one time. */
export interface Answers {
  at: number;
  jm: number;
  rm: number;
}

export class Timeline {
  readonly samples: Sample[] = [];
  readonly faults: Fault[] = [];
  readonly answers: Answers[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  #probe: Promise<void> | undefined;

  constructor(
    readonly cluster: FaultCluster,
    readonly jobId: string,
  ) {}

  start(): this {
    this.#loop ??= this.#run();
    this.#probe ??= this.#probeAnswers();
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([this.#loop, this.#probe]);
  }

  /** Times two processes answered as the job's JobManager or as the ResourceManager. */
  doubleAnswers(): string[] {
    const iso = (at: number) => new Date(at).toISOString().slice(11, 23);
    return this.answers.flatMap((a) => [
      ...(a.jm > 1 ? [`${a.jm} JobManagers of the job answered at ${iso(a.at)}`] : []),
      ...(a.rm > 1 ? [`${a.rm} ResourceManagers answered at ${iso(a.at)}`] : []),
    ]);
  }

  fault(what: string, restart = true): Fault {
    const fault = { at: Date.now(), what, restart };
    this.faults.push(fault);
    return fault;
  }

  get latest(): Sample | undefined {
    return this.samples.at(-1);
  }

  /** Resolves with the first sample (from now on) that passes `test`. */
  async until(what: string, test: (s: Sample) => boolean, timeoutMs = 30_000): Promise<Sample> {
    const from = this.samples.length;
    return await this.cluster.waitFor(
      what,
      async () => this.samples.slice(from).find(test),
      timeoutMs,
    );
  }

  /** RUNNING again after `fault`: every task of an attempt other than the one at the fault. */
  async recovered(fault: Fault, timeoutMs = 30_000): Promise<Sample> {
    return await this.cluster.waitFor(
      `RUNNING again after ${fault.what}`,
      async () => this.#recoveredAfter(fault),
      timeoutMs,
    );
  }

  #recoveredAfter(fault: Fault): Sample | undefined {
    if (fault.restart === false) return this.healthyAfter(fault.at);
    const before = this.attemptAt(fault.at);
    return this.samples.find((s) => s.at >= fault.at && s.running && s.attempt !== before);
  }

  /** The attempt the last sample before `at` saw. */
  attemptAt(at: number): number | undefined {
    let attempt: number | undefined;
    for (const s of this.samples) {
      if (s.at > at) break;
      attempt = s.attempt;
    }
    return attempt;
  }

  /** Each fault's recovery time (fault -> RUNNING again, counted once per new attempt). */
  recoveries(): Recovery[] {
    return this.faults.map((fault) => {
      const back = this.#recoveredAfter(fault);
      return { fault, ms: back ? back.at - fault.at : undefined };
    });
  }

  /**
   * How often the job came back: distinct attempts that reached RUNNING after the first fault,
   * plus faults it rode out without a restart.
   */
  recoveredCount(): number {
    const first = this.faults[0]?.at ?? Number.POSITIVE_INFINITY;
    const before = this.attemptAt(first);
    const attempts = new Set(
      this.samples
        .filter((s) => s.at >= first && s.running && s.attempt !== before)
        .map((s) => s.attempt),
    );
    const riddenOut = this.faults.filter(
      (f) => f.restart === false && this.attemptAt(Date.now()) === this.attemptAt(f.at),
    );
    return attempts.size + riddenOut.filter((f) => this.healthyAfter(f.at)).length;
  }

  /** Healthy after the last fault: RUNNING with a checkpoint completed after it. */
  healthyAfter(at: number): Sample | undefined {
    return this.samples.find(
      (s) => s.at >= at && s.running && (s.lastCheckpoint?.timestamp ?? 0) > at,
    );
  }

  async #probeAnswers(): Promise<void> {
    while (!this.#stopped) {
      const [jm, rm] = await Promise.all([
        this.cluster.responders(
          subjects.jobManager(this.cluster.clusterId, this.jobId),
          "/heartbeat",
        ),
        this.cluster.responders(subjects.resourceManager(this.cluster.clusterId), "/healthz"),
      ]);
      this.answers.push({ at: Date.now(), jm: jm.length, rm: rm.length });
      const s = this.latest;
      if (s && isJobEnd(s.state)) return;
      await new Promise((r) => setTimeout(r, 100)); // the sampling interval of the timeline
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      // One attempt per sample (the raw call; the typed read would retry within its deadline
      // and blur the timeline): a 200 of GET /jobs/:jobid carries the job's JobDetailsInfo.
      const answer = await this.cluster.call("GET", `/jobs/${this.jobId}`).catch(() => undefined);
      if (answer?.status === 200) {
        const details = answer.body as JobDetailsInfo;
        // Stamped when the answer came: a call can hang on a frozen master before another answers.
        this.samples.push(sampleOf(Date.now(), details));
        if (isJobEnd(details.state)) return;
      }
      await new Promise((r) => setTimeout(r, 50)); // the sampling interval of the timeline
    }
  }
}
