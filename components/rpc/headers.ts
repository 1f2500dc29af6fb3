/**
 * The request headers Hono sees for an envelope: `get` and `has` read the envelope's map directly,
 * because building the runtime's `Headers` cost about a microsecond and a half on every call
 * (Hono reads `accept` and `content-type` on every request). Anything else (writes, iteration)
 * switches to a real `Headers` copy, so behaviour is the runtime's own.
 */
import type { HeaderMap } from "./envelope.ts";

/**
 * A value without the HTTP whitespace (tab, LF, CR, space) at either end, as `Headers` strips it.
 * A loop from each end, linear in the value's length: the regex it replaces
 * (`/^[\t\n\r ]+|[\t\n\r ]+$/g`) was quadratic in a run of whitespace that does not end the
 * value (20,000 spaces took 184 ms; a megabyte stalled a block past its lease).
 */
export function trimHttpWhitespace(value: string): string {
  const ws = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
  let start = 0;
  let end = value.length;
  while (start < end && ws(value.charCodeAt(start))) start++;
  while (end > start && ws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

// Not declared `implements Headers`, so it type-checks whichever runtime's Headers is in scope;
// `request.ts` casts it.
export class EnvelopeHeaders {
  readonly #map: HeaderMap;
  #real: Headers | undefined;

  constructor(map: HeaderMap) {
    this.#map = map;
  }

  /** The real `Headers`, made on first need; from then on every call goes to it. */
  #copy(): Headers {
    this.#real ??= new Headers(this.#map);
    return this.#real;
  }

  get(name: string): string | null {
    if (this.#real) return this.#real.get(name);
    const wanted = name.toLowerCase();
    let found: string | null = null;
    for (const key in this.#map) {
      if (key.toLowerCase() !== wanted) continue;
      const value = trimHttpWhitespace(this.#map[key]!);
      // Names differing only in case are one header, as in `Headers`.
      found = found === null ? value : `${found}, ${value}`;
    }
    return found;
  }

  has(name: string): boolean {
    return this.#real ? this.#real.has(name) : this.get(name) !== null;
  }

  set(name: string, value: string): void {
    this.#copy().set(name, value);
  }

  append(name: string, value: string): void {
    this.#copy().append(name, value);
  }

  delete(name: string): void {
    this.#copy().delete(name);
  }

  getSetCookie(): string[] {
    return this.#copy().getSetCookie();
  }

  forEach(
    callback: (value: string, key: string, parent: EnvelopeHeaders) => void,
    thisArg?: unknown,
  ): void {
    this.#copy().forEach((value, key) => {
      callback.call(thisArg, value, key, this);
    });
  }

  entries() {
    return this.#copy().entries();
  }

  keys() {
    return this.#copy().keys();
  }

  values() {
    return this.#copy().values();
  }

  [Symbol.iterator]() {
    return this.#copy()[Symbol.iterator]();
  }
}
