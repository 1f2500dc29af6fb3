/** The stateless operators: map, filter, flatMap. Each is a few lines on the hot path. */
import type { OperatorContext, Output, StreamOperator, Timestamp } from "../types.ts";

abstract class Stateless<IN, OUT> implements StreamOperator<IN, OUT> {
  protected out!: Output<OUT>;
  open(ctx: OperatorContext<OUT>): void {
    this.out = ctx.output;
  }
  abstract processElement(value: IN, timestamp: Timestamp | undefined): void;
  processWatermark(watermark: Timestamp): void {
    this.out.emitWatermark(watermark);
  }
}

export class MapOperator<IN, OUT> extends Stateless<IN, OUT> {
  readonly #fn: (value: IN) => OUT;
  constructor(fn: (value: IN) => OUT) {
    super();
    this.#fn = fn;
  }
  processElement(value: IN, timestamp: Timestamp | undefined): void {
    this.out.collect(this.#fn(value), timestamp);
  }
}

export class FilterOperator<T> extends Stateless<T, T> {
  readonly #fn: (value: T) => boolean;
  constructor(fn: (value: T) => boolean) {
    super();
    this.#fn = fn;
  }
  processElement(value: T, timestamp: Timestamp | undefined): void {
    if (this.#fn(value)) this.out.collect(value, timestamp);
  }
}

export class FlatMapOperator<IN, OUT> extends Stateless<IN, OUT> {
  readonly #fn: (value: IN) => Iterable<OUT>;
  constructor(fn: (value: IN) => Iterable<OUT>) {
    super();
    this.#fn = fn;
  }
  processElement(value: IN, timestamp: Timestamp | undefined): void {
    const result = this.#fn(value);
    if (Array.isArray(result)) {
      for (let i = 0; i < result.length; i++) this.out.collect(result[i], timestamp);
    } else {
      for (const item of result) this.out.collect(item, timestamp);
    }
  }
}
