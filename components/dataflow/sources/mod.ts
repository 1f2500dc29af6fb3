/** The sources a job reads from: `sources.sequence(...)`, `sources.collection(...)`, ... */
import { collection } from "./collection.ts";
import { jetstream } from "./jetstream.ts";
import { lines } from "./lines.ts";
import { sequence } from "./sequence.ts";

export type { CollectionOptions } from "./collection.ts";
export type { JetStreamSourceOptions } from "./jetstream.ts";
export type { LinesOptions } from "./lines.ts";
export type { SequenceOptions, SequencePosition, SequenceRecord } from "./sequence.ts";

export const sources = { sequence, collection, lines, jetstream } as const;
