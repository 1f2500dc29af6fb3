/**
 * A binary min-heap of timers by (time, registration order), so timers of equal time fire first
 * come, first served. Deleting a timer does not touch the heap: its owner skips dead ones.
 */

interface QueuedTimer<E> {
  time: number;
  /** Registration order: timers of equal time fire first come, first served. */
  seq: number;
  entry: E;
}

export class TimerQueue<E> {
  #heap: QueuedTimer<E>[] = [];
  #seq = 0;

  clear(): void {
    this.#heap = [];
  }

  push(time: number, entry: E): void {
    const heap = this.#heap;
    const item = { time, seq: this.#seq++, entry };
    let i = heap.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  /** The earliest timer for which `live` holds, discarding dead ones on the way. */
  peek(live: (time: number, entry: E) => boolean): number | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined) return undefined;
      if (live(top.time, top.entry)) return top.time;
      this.#pop();
    }
  }

  popDue(until: number): { time: number; entry: E } | undefined {
    const top = this.#heap[0];
    return top !== undefined && top.time <= until ? this.#pop() : undefined;
  }

  #pop(): QueuedTimer<E> {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const size = heap.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before<E>(a: QueuedTimer<E>, b: QueuedTimer<E>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
