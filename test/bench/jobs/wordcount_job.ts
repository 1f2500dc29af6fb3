/** The benchmark's word count (jobs/wordcount.ts) as a submittable artifact: its default export. */
export { plain as default } from "./wordcount.ts";
