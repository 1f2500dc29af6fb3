/**
 * The checkpoints one task has seen complete, in order: each completion's commit starts after the
 * previous one's has finished, so a later checkpoint never counts as done while an earlier one's
 * commit is still under way; and the task can await one checkpoint (its final one) completing.
 */

interface Waiter {
  id: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class CheckpointCompletions {
  #completed = -1;
  #commits: Promise<void> = Promise.resolve();
  #waiters: Waiter[] = [];

  /**
   * Runs `commit` once every earlier completion's commit has finished; an id at or below one
   * already completed is skipped. A commit that throws goes to `onFailure` (the returned promise
   * then resolves once `onFailure` has run), and later completions still run.
   */
  complete(
    id: number,
    commit: () => Promise<void>,
    onFailure: (err: unknown) => void,
  ): Promise<void> {
    this.#commits = this.#commits.then(async () => {
      if (id <= this.#completed) return;
      await commit();
      this.#completed = id;
      const due = this.#waiters.filter((w) => w.id <= id);
      this.#waiters = this.#waiters.filter((w) => w.id > id);
      for (const w of due) w.resolve();
    });
    this.#commits = this.#commits.catch(onFailure);
    return this.#commits;
  }

  /** Resolves once checkpoint `id` has completed; a task that has failed gets `failure` instead. */
  completed(id: number, failure: unknown): Promise<void> {
    if (this.#completed >= id) return Promise.resolve();
    if (failure !== undefined) return Promise.reject(failure);
    return new Promise((resolve, reject) => this.#waiters.push({ id, resolve, reject }));
  }

  /** Everyone waiting for a checkpoint gets `reason` instead: the task is ending. */
  abandon(reason: unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(reason);
  }
}
