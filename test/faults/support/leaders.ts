import { JobState } from "../../../components/core/mod.ts";
/**
 * "At most one acting leader per role at any time", checked from the masters' own log lines: each
 * `elected leader` / `stepped down` line (with its timestamp) opens and closes a leadership; a
 * kill -9 closes it at the kill, a SIGSTOP suspends it until the SIGCONT. Two leaderships of one
 * role may overlap only while a deposed leader that was just woken up steps down, and it must
 * not act meanwhile; and no master may act for a role it does not lead (a JobManager line, a
 * job recovered, a TaskManager registered or declared lost...).
 */

export interface LogLine {
  at: number;
  proc: string;
  msg: string;
  role?: string;
  holder?: string;
  token?: number;
  raw: Record<string, unknown>;
}

export type LeaderRole = "dispatcher" | "resourcemanager";

export interface SignalEvent {
  at: number;
  proc: string;
  signal: string;
}

export function parseLine(line: string, proc: string): LogLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const raw = JSON.parse(line) as Record<string, unknown>;
    const at = Date.parse(String(raw.time));
    if (!Number.isFinite(at)) return undefined;
    return {
      at,
      proc,
      msg: String(raw.msg ?? ""),
      ...(typeof raw.role === "string" ? { role: raw.role } : {}),
      ...(typeof raw.holder === "string" ? { holder: raw.holder } : {}),
      ...(typeof raw.token === "number" ? { token: raw.token } : {}),
      raw,
    };
  } catch {
    return undefined;
  }
}

const RM_ACTIONS = new Set([
  "TaskManager registered",
  "TaskManager heartbeat lost",
  "TaskManager removed",
  "job requirements declared",
  "job requirements cleared",
  "slot allocated",
  "starting a TaskManager",
]);
const DISPATCHER_ACTIONS = new Set(["recovering job", "job ended"]);

/**
 * A deposed leader's line that is no act: a call its fence refused before it left the process
 * (the error says "... no longer leads: ... was refused"), what follows from that refusal (a
 * checkpoint aborted because of it), or its JobManagers being suspended as it steps down.
 */
function fenced(line: LogLine): boolean {
  return (
    JSON.stringify(line.raw).includes("no longer leads") ||
    (line.msg === "job state" && line.raw.to === JobState.SUSPENDED)
  );
}

/** Which role's leadership a log line is an act of, if any. */
export function actionOf(line: LogLine): LeaderRole | undefined {
  if (fenced(line)) return undefined;
  if (line.role === "jobmanager" || DISPATCHER_ACTIONS.has(line.msg)) return "dispatcher";
  if (RM_ACTIONS.has(line.msg)) return "resourcemanager";
  return undefined;
}

interface Span {
  proc: string;
  from: number;
  to: number;
}

export interface Leadership {
  role: LeaderRole;
  proc: string;
  token: number | undefined;
  from: number;
  /** Stepped down, or killed; undefined while leading at the end. */
  to: number | undefined;
}

/** Every leadership term per role, from the lines and the signals. */
export function leaderships(lines: LogLine[], signals: SignalEvent[]): Leadership[] {
  const terms: Leadership[] = [];
  const open = new Map<string, Leadership>();
  const events = [
    ...lines.map((line) => ({ at: line.at, line })),
    ...signals.map((signal) => ({ at: signal.at, signal })),
  ].sort((a, b) => a.at - b.at);
  for (const e of events) {
    if ("signal" in e) {
      if (e.signal.signal !== "SIGKILL") continue;
      for (const [key, term] of open) {
        if (term.proc !== e.signal.proc) continue;
        term.to = e.at;
        open.delete(key);
      }
      continue;
    }
    const { line } = e;
    if (line.role !== "resourcemanager" && line.role !== "dispatcher") continue;
    const key = `${line.role}/${line.proc}`;
    if (line.msg === "elected leader") {
      const term: Leadership = {
        role: line.role,
        proc: line.proc,
        token: line.token,
        from: line.at,
        to: undefined,
      };
      terms.push(term);
      open.set(key, term);
    } else if (line.msg === "stepped down") {
      const term = open.get(key);
      if (term) term.to = line.at;
      open.delete(key);
    }
  }
  return terms;
}

/** Leadership minus the windows in which the process was frozen. */
function actingSpans(term: Leadership, signals: SignalEvent[], end: number): Span[] {
  const to = term.to ?? end;
  const spans: Span[] = [];
  let from = term.from;
  const mine = signals.filter((s) => s.proc === term.proc).sort((a, b) => a.at - b.at);
  let frozenAt: number | undefined;
  for (const s of mine) {
    if (s.signal === "SIGSTOP" && frozenAt === undefined) frozenAt = s.at;
    if (s.signal === "SIGCONT" && frozenAt !== undefined) {
      if (frozenAt > from && frozenAt < to) spans.push({ proc: term.proc, from, to: frozenAt });
      if (s.at > from) from = Math.min(s.at, to);
      frozenAt = undefined;
    }
  }
  if (frozenAt !== undefined && frozenAt < to) spans.push({ proc: term.proc, from, to: frozenAt });
  else if (from < to) spans.push({ proc: term.proc, from, to });
  return spans;
}

export interface LeadershipReport {
  terms: Leadership[];
  violations: string[];
  /** Deposed leaders that woke up and stepped down: how long that took, in ms. */
  wakeUps: { proc: string; role: LeaderRole; stepDownMs: number }[];
}

export function checkLeadership(
  lines: LogLine[],
  signals: SignalEvent[],
  end = Date.now(),
): LeadershipReport {
  const terms = leaderships(lines, signals);
  const violations: string[] = [];
  const wakeUps: LeadershipReport["wakeUps"] = [];
  const conts = signals.filter((s) => s.signal === "SIGCONT");
  const iso = (at: number) => new Date(at).toISOString().slice(11, 23);
  for (const role of ["dispatcher", "resourcemanager"] as const) {
    const spans = terms
      .filter((term) => term.role === role)
      .map((term) => ({ term, spans: actingSpans(term, signals, end) }));
    for (let i = 0; i < spans.length; i++) {
      for (let j = i + 1; j < spans.length; j++) {
        const a = spans[i]!;
        const b = spans[j]!;
        if (a.term.proc === b.term.proc) continue;
        for (const x of a.spans) {
          for (const y of b.spans) {
            const from = Math.max(x.from, y.from);
            const to = Math.min(x.to, y.to);
            if (from >= to) continue;
            // Allowed only as a woken-up leader's step-down: it thawed at `from` and stepped down.
            const waking = [a.term, b.term].find(
              (term) => term.to === to && conts.some((c) => c.proc === term.proc && c.at === from),
            );
            if (waking) {
              wakeUps.push({ proc: waking.proc, role, stepDownMs: to - from });
              continue;
            }
            violations.push(
              `two ${role} leaders at once: ${x.proc} (token ${a.term.token}) and ${y.proc} (token ${b.term.token}) from ${iso(from)} to ${iso(to)}`,
            );
          }
        }
      }
    }
    // Acts outside the actor's own leadership of that role (frozen time cannot hold any).
    for (const line of lines) {
      if (actionOf(line) !== role) continue;
      const own = spans
        .filter((s) => s.term.proc === line.proc)
        .some(({ spans: list }) => list.some((s) => line.at >= s.from && line.at <= s.to));
      if (own) {
        // Inside a wake-up window: the deposed leader acted before it stepped down.
        const woke = wakeUps.find(
          (w) =>
            w.proc === line.proc &&
            w.role === role &&
            conts.some(
              (c) => c.proc === line.proc && line.at >= c.at && line.at <= c.at + w.stepDownMs,
            ),
        );
        if (!woke) continue;
      }
      violations.push(
        `${line.proc} acted as ${role} without leading it at ${iso(line.at)}: ${line.msg}${line.raw.job ? ` (job ${String(line.raw.job).slice(0, 8)})` : ""}`,
      );
    }
  }
  return { terms, violations, wakeUps };
}
