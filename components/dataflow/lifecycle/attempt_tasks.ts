/**
 * The tasks of one attempt and the state each last reported: what tells the job lifecycle that
 * an attempt finished (every task finished) or stopped (every task ended).
 */
import { isTaskEnd, TaskState } from "../../core/mod.ts";

export class AttemptTasks {
  readonly #states: Map<string, TaskState>;
  #live: number;
  #finished = 0;

  constructor(keys: readonly string[]) {
    this.#states = new Map(keys.map((key) => [key, TaskState.DEPLOYING]));
    this.#live = this.#states.size;
  }

  /** Records a task's report; false when the task is unknown or had ended (a late report). */
  report(task: string, state: TaskState): boolean {
    const before = this.#states.get(task);
    if (before === undefined || isTaskEnd(before)) return false;
    this.#states.set(task, state);
    if (isTaskEnd(state)) this.#live--;
    if (state === TaskState.FINISHED) this.#finished++;
    return true;
  }

  get allEnded(): boolean {
    return this.#live === 0;
  }

  get allFinished(): boolean {
    return this.#finished === this.#states.size;
  }

  states(): ReadonlyMap<string, TaskState> {
    return this.#states;
  }
}
